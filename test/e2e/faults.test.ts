// The fault matrix, part 1: what goes wrong before production is replaced. For each
// fault the generated run.sh must stop with a diagnosis (what happened, what it means,
// the exact next command), production must be untouched and serving, and after
// rollback.sh the application runtime must be back at its recorded state.
//
//   1. a WAL segment missing in the middle of the needed range → preflight, before
//      anything is stopped;
//   2. a corrupt base backup: a flipped byte inside a data file (pg_basebackup layout,
//      caught by pg_verifybackup) and in the gzip stream (tarball layout, caught by the
//      extraction, not retried);
//   3. the S3 endpoint going away as fetch starts → retries with backoff, then a stop;
//   4. a target later than the last archived WAL → preflight names the latest reachable time;
//   5. a target before the end of the only backup → preflight lists the backups.
// (Lock, kill -9 and rollback after finalize: resume.test.ts. Hostile names:
// hostile-names.test.ts.)
//
// One primary (PostgreSQL 15, Asia/Tokyo) and one incident scenario serve every case;
// each case compiles its own plan against its own copy of the archive (damaged as the
// case needs) with its own workDir, so no case sees another's leftovers.
//
// "Production unchanged" is measured with relationManifest (lib/manifest.ts): after
// VACUUM FREEZE with autovacuum off, the application database's relation files change
// only if rows are written, so their checksums (after a CHECKPOINT) are compared before
// and after each case, together with the data directory's inode and the postmaster's
// pid (never restarted). The rest of the data directory (WAL, pg_control, statistics) is
// rewritten by the running server itself and cannot be compared while it serves.

import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NOT_AFTER_TARGET,
  buildIncidentScenario,
  captureAppState,
  cleanupHarnessRoot,
  compileBundle,
  composeRuntime,
  createHarnessRoot,
  formatWithOffset,
  freePort,
  installBlockers,
  installComposeStandIns,
  k8sRuntime,
  quiesce,
  relationManifest,
  run,
  s3Env,
  s3Source,
  startPrimary,
  startS3rver,
  testPlan,
  uploadArchive,
  type Blockers,
  type PlanDocument,
  type Primary,
  type RelationManifest,
  type RunResult,
  type Scenario,
  type StandIns,
} from './harness.js';

const BUCKET = 'pitr-e2e-faults';

interface Variant {
  name: string;
  archiveDir: string;
  layout: 'tarball' | 'pg_basebackup';
  runtime: 'docker' | 'k8s';
  targetTime: string;
  s3Endpoint?: string;
  /** Directories put first on PATH (a broken program for one case). */
  pathFirst?: string[];
  /** WAL compression of the archive; default none. */
  compression?: 'none' | 'gzip';
  /** target.inclusive; default false. */
  inclusive?: boolean;
  /** Environment changes for the scripts ('' removes a variable). */
  env?: Record<string, string>;
}

describe('fault matrix before finalize: production untouched, services restored', () => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let standIns: StandIns;
  let blockers: Blockers;
  let pristine: string;
  let before: RelationManifest;
  let pidBefore: number;
  const server = () => ({ socketDir: primary.socketDir, port: primary.port });

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'Asia/Tokyo' });
    // Two more archived segments between b1 and the target: a "middle" to lose.
    scenario = await buildIncidentScenario(primary, { layout: 'pg_basebackup', segmentsBeforeTarget: 2 });
    await quiesce(server(), scenario.db);
    pristine = join(root, 'archive-pristine');
    await run('cp', ['-a', primary.archiveDir, pristine]);
    standIns = installComposeStandIns(root, ['api', 'celery']);
    standIns.setReplicas('api', 3);
    standIns.setReplicas('celery-worker', 2);
    blockers = installBlockers(root);
    before = await relationManifest(server(), primary.dataDir, scenario.db);
    pidBefore = await primary.postmasterPid();
  }, 300_000);

  afterAll(async () => {
    blockers?.releaseAll();
    await cleanupHarnessRoot(root);
  }, 120_000);

  /** A copy of the pristine archive for one case to damage. */
  const archiveCopy = async (name: string): Promise<string> => {
    const dir = join(root, 'archives', name);
    mkdirSync(join(root, 'archives'), { recursive: true });
    await run('cp', ['-a', pristine, dir]);
    return dir;
  };

  const planFor = async (v: Variant): Promise<PlanDocument> => testPlan({
    name: `fault-${v.name}`,
    description: `fault matrix: ${v.name}`,
    root, primary, scenario,
    layout: v.layout,
    walCompression: v.compression,
    sidePort: await freePort(),
    overrides: {
      target: { time: v.targetTime, inclusive: v.inclusive ?? false },
      source: v.s3Endpoint ? s3Source(BUCKET, v.s3Endpoint) : { path: v.archiveDir },
      recovery: { workDir: join(root, `work-${v.name}`), parallelism: 4 },
      runtime: v.runtime === 'docker' ? composeRuntime(root, ['api', 'celery', 'frontend']) : k8sRuntime(['api', 'celery-worker']),
      safetyBackup: { dir: join(root, `safety-${v.name}`) },
      verify: { notAfterTarget: NOT_AFTER_TARGET },
    },
  });

  /** Compile the variant's plan (no shellcheck: run.sh's templates are checked elsewhere); returns a runner for its scripts. */
  const compileVariant = async (v: Variant) => {
    const bundle = compileBundle(root, await planFor(v), {
      shellcheck: false,
      pathFirst: [...(v.pathFirst ?? []), blockers.binDir, standIns.binDir],
      s3: Boolean(v.s3Endpoint),
      env: v.env,
    });
    return { bundle: bundle.dir, workDir: join(root, `work-${v.name}`), script: bundle.run };
  };

  /** Production kept serving its own data all along: same postmaster, same relation files. */
  const expectProductionUntouched = async () => {
    expect(await primary.postmasterPid(), 'production was never restarted').toBe(pidBefore);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.final);
    expect(await relationManifest(server(), primary.dataDir, scenario.db)).toEqual(before);
  };

  const changingCalls = (from: number) =>
    standIns.readCalls().slice(from).filter((call) => call.some((word) => ['stop', 'start', 'scale'].includes(word)));

  /** The diagnosis as the operator reads it: every FAIL line. */
  const failLines = (result: RunResult) => result.stderr.split('\n').filter((line) => / FAIL \[/.test(line));

  /** Every failure ends with the exact next command. The diagnosis is printed for the CI log. */
  const expectNextCommand = (result: RunResult, command: RegExp) => {
    const lines = failLines(result);
    console.log(lines.map((line) => line.replace(/^\S+ /, '')).join('\n'));
    expect(lines.at(-1), result.stderr).toMatch(/ FAIL \[run\] next: /);
    expect(lines.at(-1)).toMatch(command);
  };

  it('1. a WAL segment missing in the middle of the needed range is found by preflight, before anything is stopped', async () => {
    const archiveDir = await archiveCopy('wal-gap');
    // b1 starts in segment N; N+1 and N+2 hold good commits; the target is in N+3.
    const start = scenario.backups.b1!.startWalFile;
    const segments = readdirSync(join(archiveDir, 'wal')).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
    const middle = segments[segments.indexOf(start) + 2]!;
    expect(middle.slice(0, 8)).toBe('00000001');
    rmSync(join(archiveDir, 'wal', middle));
    const v = await compileVariant({ name: 'wal-gap', archiveDir, layout: 'pg_basebackup', runtime: 'docker', targetTime: scenario.target.written });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`WAL gap before the target: segment(s) ${middle} are missing from the archive`);
    expect(result.stderr).toMatch(/the latest reachable target is \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00/);
    expect(result.stderr).toContain('Nothing was changed');
    expect(result.stderr).toContain('phase 00-preflight failed');
    expectNextCommand(result, /then run \.\/run\.sh again$/);
    // Nothing was stopped, nor even listed: preflight runs before stop-services.
    expect(standIns.readCalls().length).toBe(calls);
    expect(existsSync(join(v.bundle, 'state', 'done', '00-preflight'))).toBe(false);
    expect(existsSync(v.workDir)).toBe(false);
    await expectProductionUntouched();

    // rollback.sh finds nothing to restart.
    const rollback = await v.script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stderr).toContain('the services were never stopped by this run: nothing to restart');
    expect(standIns.readCalls().length).toBe(calls);
    await expectProductionUntouched();
  }, 300_000);

  it('2a. a flipped byte in a data file of a pg_basebackup backup is caught by pg_verifybackup; rollback.sh restarts the services', async () => {
    const archiveDir = await archiveCopy('corrupt-manifest');
    const flipped = flipByteInTarMember(join(archiveDir, 'base', 'b1', 'base.tar.gz'), /^base\/\d+\/\d+$/);
    const v = await compileVariant({ name: 'corrupt-manifest', archiveDir, layout: 'pg_basebackup', runtime: 'docker', targetTime: scenario.target.written });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('phase 04-fetch failed');
    // pg_verifybackup's own report, then ours.
    expect(result.stderr).toContain(`checksum mismatch for file "${flipped}"`);
    // Named by its reason: a file differs from the manifest (not WAL parsing, not the manifest).
    expect(result.stderr).toMatch(/pg_verifybackup rejected the base backup: 1 file\(s\) differ from the manifest \(size or checksum\)/);
    expect(result.stderr).toContain("Production's data directory is unchanged");
    expectNextCommand(result, /\.\/rollback\.sh$/);
    await expectProductionUntouched();

    const rollback = await v.script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stderr).toContain('rollback complete');
    expectComposeRestored(calls);
    expect(existsSync(join(v.workDir, 'data'))).toBe(false);
    await expectProductionUntouched();
  }, 300_000);

  it('2b. a flipped byte in a tarball\'s gzip stream stops the extraction at once (no retry of a damaged object)', async () => {
    const archiveDir = await archiveCopy('corrupt-gzip');
    const tarball = join(archiveDir, 'base', 'b1.tar.gz');
    const bytes = readFileSync(join(archiveDir, 'base', 'b1', 'base.tar.gz'));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(tarball, bytes);
    const v = await compileVariant({ name: 'corrupt-gzip', archiveDir, layout: 'tarball', runtime: 'docker', targetTime: scenario.target.written });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('phase 04-fetch failed');
    expect(result.stderr).toContain(`the base backup object ${tarball} is damaged: gzip/tar found corrupt or missing data in it`);
    expect(result.stderr).toContain('it was not read again');
    expect(result.stderr).toContain(`damaged object: ${tarball}`);
    expect(result.stderr).toContain(`the archive lists it as: ${bytes.length} bytes`);
    expect(result.stderr).not.toContain('retrying in');
    expectNextCommand(result, /\.\/rollback\.sh$/);
    await expectProductionUntouched();

    const rollback = await v.script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expectComposeRestored(calls);
    await expectProductionUntouched();
  }, 300_000);

  it('2c. a truncated base tarball in a local archive is named damaged at once: not retried, not blamed on the network', async () => {
    const archiveDir = await archiveCopy('truncated-tarball');
    const tarball = join(archiveDir, 'base', 'b1.tar.gz');
    const bytes = readFileSync(join(archiveDir, 'base', 'b1', 'base.tar.gz'));
    const kept = Math.floor(bytes.length * 0.6);
    writeFileSync(tarball, bytes.subarray(0, kept));
    const v = await compileVariant({ name: 'truncated-tarball', archiveDir, layout: 'tarball', runtime: 'docker', targetTime: scenario.target.written });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('phase 04-fetch failed');
    expect(result.stderr).toContain(`damaged object: ${tarball}`);
    expect(result.stderr).toContain(`the archive lists it as: ${kept} bytes`);
    expect(result.stderr).toContain('the object is truncated');
    expect(result.stderr).toContain(`the base backup object ${tarball} is damaged`);
    expect(result.stderr).not.toContain('retrying in');
    expect(result.stderr).not.toMatch(/network|credentials/);
    expectNextCommand(result, /\.\/rollback\.sh$/);
    await expectProductionUntouched();

    const rollback = await v.script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expectComposeRestored(calls);
    await expectProductionUntouched();
  }, 300_000);

  it('2d. a corrupted WAL file in S3 (gzip) is named damaged where it is read: the object, what the archive lists, what was found', async () => {
    // The archive with every WAL file gzip-compressed, as a gzip archive_command writes it.
    const archiveDir = await archiveCopy('corrupt-wal-s3');
    const walDir = join(archiveDir, 'wal');
    for (const name of readdirSync(walDir)) {
      writeFileSync(join(walDir, `${name}.gz`), gzipSync(readFileSync(join(walDir, name))));
      rmSync(join(walDir, name));
    }
    const start = scenario.backups.b1!.startWalFile;
    const segments = readdirSync(walDir).filter((n) => /^[0-9A-F]{24}\.gz$/.test(n)).sort();
    const middle = segments[segments.indexOf(`${start}.gz`) + 2]!;
    const damaged = readFileSync(join(walDir, middle));
    for (let i = 100; i < 164; i++) damaged[Math.floor(damaged.length / 2) + i]! ^= 0x5a;
    writeFileSync(join(walDir, middle), damaged);
    const s3 = await startS3rver({ root });
    await uploadArchive(s3.endpoint, BUCKET, archiveDir);
    const v = await compileVariant({ name: 'corrupt-wal-s3', archiveDir, layout: 'pg_basebackup', runtime: 'docker', targetTime: scenario.target.written, s3Endpoint: s3.endpoint, compression: 'gzip' });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('phase 06-recover failed');
    expect(result.stderr).toContain('a WAL file in the archive is damaged');
    expect(result.stderr).toContain(`damaged object: s3://${BUCKET}/wal/${middle}`);
    expect(result.stderr).toMatch(new RegExp(`the archive lists it as: ${damaged.length} bytes, ETag [0-9a-f]{32}`));
    expect(result.stderr).toMatch(/found: \d+ bytes read; gzip: /);
    expect(result.stderr).not.toContain('network, credentials');
    await expectProductionUntouched();

    const rollback = await v.script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expectComposeRestored(calls);
    await expectProductionUntouched();
    await s3.stop();
  }, 600_000);

  it('3. the S3 endpoint going away as fetch starts: retries with backoff, then a clear stop; rollback.sh scales the deployments back', async () => {
    const s3 = await startS3rver({ root });
    await uploadArchive(s3.endpoint, BUCKET, pristine);
    const v = await compileVariant({ name: 's3-gone', archiveDir: pristine, layout: 'pg_basebackup', runtime: 'k8s', targetTime: scenario.target.written, s3Endpoint: s3.endpoint });
    const calls = standIns.readCalls().length;

    // Fetch marks its partial extraction before the first download: the endpoint dies there.
    const gate = blockers.block('touch', [join(v.workDir, '.data-partial')]);
    const running = v.script('run.sh', ['--yes']);
    await gate.reached();
    await s3.stop();
    gate.release();
    const result = await running;

    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('phase 04-fetch failed');
    expect(result.stderr).toMatch(/attempt 1\/3 to fetch s3:\/\/pitr-e2e-faults\/base\/b1\/base\.tar\.gz failed; retrying in 5s/);
    expect(result.stderr).toMatch(/attempt 2\/3 to fetch s3:\/\/pitr-e2e-faults\/base\/b1\/base\.tar\.gz failed; retrying in 10s/);
    expect(result.stderr).toContain(`cannot fetch s3://${BUCKET}/base/b1/base.tar.gz: 3 attempts failed; the S3 endpoint ${s3.endpoint} did not deliver it`);
    expectNextCommand(result, /\.\/rollback\.sh$/);
    // The background WAL stager, started before the base backup, stopped with the run.
    const stagers = await run('pgrep', ['-f', join(v.workDir, 'bin', 'stage-wal.sh')], { allowFailure: true });
    expect(stagers.stdout.trim()).toBe('');
    // The deployments were scaled down by stop-services and are still down.
    expect(standIns.replicas('api')).toBe(0);
    await expectProductionUntouched();

    const rollback = await v.script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    const kube = ['kubectl', '--context', 'e2e', '--namespace', 'app'];
    expect(changingCalls(calls)).toEqual([
      [...kube, 'scale', 'deployment', 'api', '--replicas=0'],
      [...kube, 'scale', 'deployment', 'celery-worker', '--replicas=0'],
      [...kube, 'scale', 'deployment', 'api', '--replicas=3'],
      [...kube, 'scale', 'deployment', 'celery-worker', '--replicas=2'],
    ]);
    expect(standIns.replicas('api')).toBe(3);
    expect(standIns.replicas('celery-worker')).toBe(2);
    await expectProductionUntouched();
  }, 300_000);

  /** Preflight stopped the run: nothing stopped or even listed, no workDir, production untouched. */
  const expectStoppedInPreflight = async (v: { bundle: string; workDir: string }, result: RunResult, calls: number) => {
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('phase 00-preflight failed');
    expect(result.stderr).toContain('Nothing was changed');
    expect(standIns.readCalls().length, 'no service was stopped, nor even listed').toBe(calls);
    expect(existsSync(join(v.bundle, 'state', 'done', '00-preflight'))).toBe(false);
    expect(existsSync(v.workDir)).toBe(false);
    await expectProductionUntouched();
  };

  it('6. an inclusive time target at the newest commit in the archive stops preflight, before any service is stopped', async () => {
    // The newest transaction in the archive, as pg_waldump reads it (microseconds, UTC).
    const walDir = join(pristine, 'wal');
    const times: string[] = [];
    for (const segment of readdirSync(walDir).filter((n) => /^[0-9A-F]{24}$/.test(n))) {
      const dump = await run('/usr/lib/postgresql/15/bin/pg_waldump', ['--path', walDir, '--rmgr=Transaction', segment], { allowFailure: true, env: { ...process.env, TZ: 'UTC' } });
      for (const m of dump.stdout.matchAll(/desc: (?:COMMIT|ABORT) (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) UTC/g)) times.push(`${m[1]}T${m[2]}`);
    }
    const newest = times.sort().at(-1)!;
    expect(newest).toBeDefined();
    const [whole, fraction = ''] = newest.split('.');
    const target = `${whole}.${fraction.padEnd(6, '0')}+00:00`;
    const v = await compileVariant({ name: 'inclusive-newest', archiveDir: pristine, layout: 'pg_basebackup', runtime: 'docker', targetTime: target, inclusive: true });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    expect(result.stderr).toContain('is the time of the newest transaction in the archive');
    expect(result.stderr).toContain('with inclusive: true PostgreSQL stops only on a transaction that ended after the target');
    expect(result.stderr).toMatch(/FAIL \[00-preflight\] next: fix target\.inclusive .* in the plan, recompile it/);
    await expectStoppedInPreflight(v, result, calls);
  }, 300_000);

  it('7. S3 credentials that work for root but not for the postgres user stop preflight, before any service is stopped', async () => {
    const s3 = await startS3rver({ root });
    await uploadArchive(s3.endpoint, BUCKET, pristine);
    // A credentials file only root can read: root lists the archive, postgres cannot.
    const keys = s3Env();
    const rootOnly = join(root, 'root-only-aws');
    mkdirSync(rootOnly, { mode: 0o700 });
    const credentials = join(rootOnly, 'credentials');
    writeFileSync(credentials, `[default]\naws_access_key_id = ${keys.AWS_ACCESS_KEY_ID}\naws_secret_access_key = ${keys.AWS_SECRET_ACCESS_KEY}\n`, { mode: 0o600 });
    const v = await compileVariant({
      name: 'creds-root-only', archiveDir: pristine, layout: 'pg_basebackup', runtime: 'docker', targetTime: scenario.target.written, s3Endpoint: s3.endpoint,
      env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_SHARED_CREDENTIALS_FILE: credentials },
    });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    // Root could list it (the backup was chosen), postgres could not.
    expect(result.stderr).toContain('base backup: b1 ');
    expect(result.stderr).toContain('the archive cannot be listed as postgres (the user the WAL stager and restore_command run as), although it can as root');
    expect(result.stderr).toMatch(/FAIL \[00-preflight\] next: give postgres the same access .* check with: runuser -u postgres -- \/usr\/bin\/aws s3 ls s3:\/\/pitr-e2e-faults\/wal\/; then run \.\/run\.sh again\n/);
    await expectStoppedInPreflight(v, result, calls);
    await s3.stop();
  }, 300_000);

  it('4. a target later than the last archived WAL stops preflight with the latest reachable time', async () => {
    // Nothing committed since the scenario's last WAL switch reached the archive.
    const target = formatWithOffset(Date.now(), '-05:00');
    const v = await compileVariant({ name: 'too-late', archiveDir: pristine, layout: 'pg_basebackup', runtime: 'docker', targetTime: target });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(1);
    const match = /is later than the last transaction in the archive: the latest reachable target is (\S+)\. Nothing was changed\./.exec(result.stderr);
    expect(match, result.stderr).not.toBeNull();
    const latest = Date.parse(match![1]!);
    expect(latest).toBeLessThan(Date.parse(target));
    expect(latest).toBeGreaterThan(scenario.target.epochMs);
    expect(result.stderr).toMatch(/next: wait for archiving to catch up \(SELECT pg_switch_wal\(\) on the primary\) and run \.\/run\.sh again; or fix target\.time \(at or before \S+\) in the plan, recompile it/);
    expectNextCommand(result, /then run \.\/run\.sh again$/);
    expect(standIns.readCalls().length).toBe(calls);
    await expectProductionUntouched();
  }, 300_000);

  it('5. a target before the end of the only backup stops preflight, listing the backups', async () => {
    const archiveDir = await archiveCopy('before-backup');
    // Only b1 remains in this archive.
    rmSync(join(archiveDir, 'base', 'b2'), { recursive: true });
    rmSync(join(archiveDir, 'wal', scenario.backups.b2!.fileName));
    const b1 = scenario.backups.b1!;
    const stopMs = Number(await primary.psql(`SELECT floor(extract(epoch FROM '${b1.stopTime}'::timestamptz) * 1000)::bigint`));
    const target = formatWithOffset(stopMs - 500, '+05:30');
    const v = await compileVariant({ name: 'before-backup', archiveDir, layout: 'pg_basebackup', runtime: 'docker', targetTime: target });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('no base backup ends strictly before the target');
    expect(result.stderr).toContain(`  b1  (timeline 1, start ${b1.startWalLocation}, stop ${b1.stopWalLocation}, STOP TIME ${b1.stopTime})`);
    expect(result.stderr).not.toContain('  b2  (');
    expect(result.stderr).toContain('next: never recover from a backup that ends after the target');
    expectNextCommand(result, /then run \.\/run\.sh again$/);
    expect(standIns.readCalls().length).toBe(calls);
    await expectProductionUntouched();
  }, 300_000);

  it('an unexpected command failure (the Docker daemon gone while stopping services): the ERR trap names the phase, the command and where', async () => {
    // docker answers `ps` but every `stop` fails as with a stopped daemon.
    const brokenBin = join(root, 'broken-docker');
    mkdirSync(brokenBin, { recursive: true });
    writeFileSync(join(brokenBin, 'docker'), [
      '#!/usr/bin/env bash',
      'if [[ " $* " == *" stop "* ]]; then',
      '  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2',
      '  exit 1',
      'fi',
      `exec ${join(standIns.binDir, 'docker')} "$@"`,
      '',
    ].join('\n'), { mode: 0o755 });
    const v = await compileVariant({ name: 'docker-down', archiveDir: pristine, layout: 'pg_basebackup', runtime: 'docker', targetTime: scenario.target.written, pathFirst: [brokenBin] });
    const calls = standIns.readCalls().length;

    const result = await v.script('run.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('Cannot connect to the Docker daemon');
    expect(result.stderr).toContain(`FAIL [02-stop-services] 02-stop-services: command failed (exit 1): docker compose -f ${join(root, 'compose.yml')} stop api celery`);
    expect(result.stderr).toMatch(/FAIL \[02-stop-services\] {3}at log\.sh:\d+ run_logged < runtime\.sh:\d+ compose < runtime\.sh:\d+ runtime_record_and_stop < 02-stop-services\.sh:\d+ main/);
    expect(result.stderr).toContain('FAIL [02-stop-services] next: read the messages above and fix the cause, then resume with ./run.sh (completed steps are skipped); or undo with ./rollback.sh');
    expect(result.stderr).toContain('phase 02-stop-services failed');
    expectNextCommand(result, /\.\/rollback\.sh$/);
    expect(standIns.composeRunning()).toEqual(['api', 'celery']);
    await expectProductionUntouched();

    // The services were recorded before the failed stop: rollback starts exactly those.
    const rollback = await v.script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(changingCalls(calls)).toEqual([[...['docker', 'compose', '-f', join(root, 'compose.yml')], 'start', 'api', 'celery']]);
    expect(standIns.composeRunning()).toEqual(['api', 'celery']);
    await expectProductionUntouched();
  }, 300_000);

  // Last: it finalizes (then rolls back), so production's postmaster changes.
  it('a WAL segment lost from staging and archive during replay: restore_command exits 126, PostgreSQL stops, its log is diagnosed; put back, ./run.sh resumes and completes', async () => {
    const archiveDir = await archiveCopy('lost-in-replay');
    const start = scenario.backups.b1!.startWalFile;
    const segments = readdirSync(join(archiveDir, 'wal')).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();
    const segment = segments[segments.indexOf(start) + 2]!;
    const v = await compileVariant({ name: 'lost-in-replay', archiveDir, layout: 'pg_basebackup', runtime: 'docker', targetTime: scenario.target.written });
    const calls = standIns.readCalls().length;

    // Hold the side instance's start; meanwhile the segment goes from staging and archive.
    // 06-recover runs pg_ctl from workDir with a relative log path (env -C: pg_ctl's
    // shell must never see workDir).
    const gate = blockers.block('runuser', [` -C ${v.workDir} `, ' -l side-instance.log ', ' start ']);
    const running = v.script('run.sh', ['--yes']);
    await gate.reached();
    const keptAside = join(root, `lost-${segment}`);
    renameSync(join(archiveDir, 'wal', segment), keptAside);
    // An uncompressed local archive is read in place (nothing staged); other archives stage.
    rmSync(join(v.workDir, 'wal-staging', segment), { force: true });
    gate.release();
    const result = await running;

    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('phase 06-recover failed');
    expect(result.stderr).toContain('diagnosis: the restore_command could not fetch a WAL file from the archive');
    expect(result.stderr).toMatch(new RegExp(`server log: .*(could not restore file "${segment}" from archive|FAIL \\[restore_command\\] could not fetch ${segment})`));
    expect(result.stderr).toContain('meaning: the archive failed while PostgreSQL needed that file');
    expect(result.stderr).toContain(`next: fix access to ${archiveDir}/wal/, then resume with ./run.sh (the side instance starts again and replays from where it was)`);
    expectNextCommand(result, /\.\/rollback\.sh$/);
    await expectProductionUntouched();

    // The fix: the segment is back. The resumed run starts the side instance again.
    renameSync(keptAside, join(archiveDir, 'wal', segment));
    const resumed = await v.script('run.sh', ['--yes']);
    expect(resumed.code, resumed.stderr.slice(-5000)).toBe(0);
    expect(resumed.stderr).toContain('already done: 05-configure');
    expect(resumed.stderr).toContain('paused at the target');
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);

    const rollback = await v.script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.final);
    expect(await relationManifest(server(), primary.dataDir, scenario.db)).toEqual(before);
    expectComposeRestored(calls, true);
  }, 600_000);

  /** docker: exactly the recorded services were stopped, then started again. */
  function expectComposeRestored(callsBefore: number, finalizedThenRolledBack = false): void {
    const compose = ['docker', 'compose', '-f', join(root, 'compose.yml')];
    const cycle = [[...compose, 'stop', 'api', 'celery'], [...compose, 'start', 'api', 'celery']];
    // A finalized run restarts the services; rolling it back stops and starts them again.
    expect(changingCalls(callsBefore)).toEqual(finalizedThenRolledBack ? [...cycle, ...cycle] : cycle);
    expect(standIns.composeRunning()).toEqual(['api', 'celery']);
  }
});

/**
 * Flip one byte in the middle of the first regular file of `tarGz` whose name matches
 * `member` and is at least 8 KiB, keeping the gzip stream valid; returns the member's name.
 */
function flipByteInTarMember(tarGz: string, member: RegExp): string {
  const tar = gunzipSync(readFileSync(tarGz));
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    if (name === '') break;
    const size = Number.parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim(), 8);
    const type = String.fromCharCode(header[156]!);
    if ((type === '0' || type === '\0') && member.test(name) && size >= 8192) {
      tar[offset + 512 + Math.floor(size / 2)]! ^= 0xff;
      writeFileSync(tarGz, gzipSync(tar));
      expect(statSync(tarGz).size).toBeGreaterThan(0);
      return name;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`no member matching ${member} of at least 8 KiB in ${tarGz}`);
}
