// Smoke test of the e2e harness itself, WITHOUT the compiler: the primary archives,
// the incident scenario is valid (a hand-made recovery of b1 to the written target
// pauses with exactly the expected rows), the aws CLI works against s3rver as the
// postgres user and its failures can be told apart, the docker/kubectl stand-ins
// answer and record, and the pg_basebackup layout + gzip archive are right.
//
// Run: npx vitest run test/e2e/harness.test.ts   (needs root and PostgreSQL 15)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  PG_BIN,
  appendPostgresConf,
  buildIncidentScenario,
  captureAppState,
  chownToPostgres,
  cleanupHarnessRoot,
  createHarnessRoot,
  extractTarGzAsPostgres,
  freePort,
  installStandIns,
  isProcessAlive,
  listBackupHistories,
  listKeys,
  psqlAt,
  quoteIdent,
  readArchivedFile,
  readPostmasterPid,
  run,
  runAsPostgres,
  runAwsAsPostgres,
  startPrimary,
  startS3rver,
  startServer,
  stopServer,
  takeBaseBackup,
  uploadArchive,
  waitForRecoveryPause,
  type Primary,
  type Scenario,
  type ServerLocation,
} from './harness.js';

const TEST_TIMEOUT = 180_000;
const SEGMENT_NAME = /^[0-9A-F]{24}$/;

/** Wall-clock durations, printed at the end for the record (never asserted on). */
const durations: Record<string, number> = {};
async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await work();
  } finally {
    durations[name] = Date.now() - started;
  }
}

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('e2e harness', () => {
  let root: string | undefined;
  let primary: Primary;
  let scenario: Scenario;
  /** Every postmaster we saw, to prove none survives cleanup. */
  const postmasterPids = new Set<number>();

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await timed('start primary', () => startPrimary({ root: root!, timezone: 'Asia/Tokyo' }));
    postmasterPids.add(await primary.postmasterPid());
    scenario = await timed('build scenario', () => buildIncidentScenario(primary, { layout: 'tarball' }));
  }, TEST_TIMEOUT);

  afterAll(async () => {
    const harnessRoot = root;
    await cleanupHarnessRoot(harnessRoot);
    console.log(`harness smoke test durations (ms): ${JSON.stringify(durations)}`);
    // No postgres process may outlive the test: neither one we saw nor any other
    // whose command line names the harness root (postmasters run `postgres -D <dir>`).
    const survivors = [...postmasterPids].filter(isProcessAlive);
    const pgrep = harnessRoot ? await run('pgrep', ['-f', '-a', harnessRoot], { allowFailure: true }) : undefined;
    expect(survivors).toEqual([]);
    expect(pgrep?.stdout ?? '').toBe('');
  }, TEST_TIMEOUT);

  it('scenario: target written with a foreign offset, expected state differs from the final one', () => {
    expect(scenario.target.serverOffset).toBe('+09:00');
    expect(scenario.target.written.endsWith(scenario.target.writtenOffset)).toBe(true);
    expect(scenario.target.writtenOffset).not.toBe(scenario.target.serverOffset);
    expect(Date.parse(scenario.target.written)).toBe(scenario.target.epochMs);
    // Before the incident: 2 and 6 exist, the bad import (900..) and later rows do not.
    expect(scenario.expected.accountIds).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(scenario.expected.accounts.find((a) => a.id === 3)?.name).toBe('renamed-3');
    expect(scenario.expected.eventsCount).toBe(13);
    expect(scenario.final).not.toEqual(scenario.expected);
    expect(scenario.backupIds).toEqual(['b1', 'b2']);
  });

  it('archive: tarball layout, backup history files with LABEL and STOP TIME, WAL segments', async () => {
    const archive = primary.archiveDir;
    expect(existsSync(join(archive, 'base/b1.tar.gz'))).toBe(true);
    expect(existsSync(join(archive, 'base/b2.tar.gz'))).toBe(true);
    const label = await readFile(join(archive, 'base/b1/backup_label'), 'utf8');
    expect(label).toContain('LABEL: b1');

    const histories = await listBackupHistories(archive);
    expect(histories.map((h) => h.label)).toEqual(['b1', 'b2']);
    for (const history of histories) {
      expect(history.fileName).toMatch(/^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/);
      expect(history.stopTime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST$/);
    }

    const segments = (await readdir(join(archive, 'wal'))).filter((name) => SEGMENT_NAME.test(name));
    expect(segments.length).toBeGreaterThanOrEqual(4);
    expect(segments).toContain(scenario.backups.b1!.startWalFile);

    // The tarball has the data directory's contents at its root, backup_label included.
    const listing = (await run('tar', ['-tzf', join(archive, 'base/b1.tar.gz')])).stdout.split('\n');
    expect(listing).toEqual(expect.arrayContaining(['backup_label', 'PG_VERSION', 'global/pg_control']));
    // Everything in the archive belongs to postgres.
    const owners = (await run('find', [archive, '!', '-user', 'postgres'])).stdout.trim();
    expect(owners).toBe('');
  });

  it('manual recovery of b1 to the written target pauses with exactly the expected rows', async () => {
    const dir = join(root!, 'manual-recovery');
    const server: ServerLocation = {
      dataDir: join(dir, 'data'),
      socketDir: join(dir, 'run'),
      logFile: join(dir, 'server.log'),
      port: await freePort(),
    };
    await timed('manual recovery', async () => {
      await mkdir(server.socketDir, { recursive: true });
      await extractTarGzAsPostgres(join(primary.archiveDir, 'base/b1.tar.gz'), server.dataDir);
      await appendPostgresConf(join(server.dataDir, 'postgresql.auto.conf'), {
        restore_command: `cp ${join(primary.archiveDir, 'wal')}/%f %p`,
        recovery_target_time: scenario.target.written,
        recovery_target_inclusive: 'off',
        recovery_target_action: 'pause',
        // The backup carries the primary's port, socket dir and archive_command.
        port: server.port,
        unix_socket_directories: server.socketDir,
        archive_mode: 'off',
      });
      await writeFile(join(server.dataDir, 'recovery.signal'), '');
      await chownToPostgres(dir);

      await startServer(server);
      postmasterPids.add((await readPostmasterPid(server.dataDir))!);
      await waitForRecoveryPause(server);
    });

    expect(await captureAppState(server, scenario.db)).toEqual(scenario.expected);
    const log = await readFile(server.logFile, 'utf8');
    expect(log).toContain('recovery stopping before commit of transaction');
    expect(log).toContain('pausing at the end of recovery');
    // The production archive must not have been written to by the recovered server.
    expect(await psqlAt({ ...server, sql: 'SHOW archive_mode' })).toBe('off');
    await stopServer(server.dataDir);
  }, TEST_TIMEOUT);

  it('s3rver: aws CLI as postgres downloads byte-identical files, lists keys, and fails distinguishably', async () => {
    const s3 = await startS3rver({ root: root! });
    const keys = await timed('upload archive', () => uploadArchive(s3.endpoint, 'backups', primary.archiveDir));
    expect(keys).toContain('base/b1.tar.gz');
    expect(await listKeys(s3.endpoint, 'backups', 'base/')).toEqual(
      expect.arrayContaining(['base/b1.tar.gz', 'base/b1/backup_label', 'base/b2.tar.gz']),
    );

    // Download a segment and the tarball the way a restore_command / fetch would.
    const downloads = join(root!, 'downloads');
    await mkdir(downloads);
    await chownToPostgres(downloads);
    const segment = scenario.backups.b1!.startWalFile;
    for (const key of [`wal/${segment}`, 'base/b1.tar.gz']) {
      const local = join(downloads, key.replaceAll('/', '_'));
      const copy = await timed('aws s3 cp', () =>
        runAwsAsPostgres(s3.endpoint, ['s3', 'cp', '--only-show-errors', `s3://backups/${key}`, local]),
      );
      expect(copy.code, copy.stderr).toBe(0);
      expect(await sha256(local)).toBe(await sha256(join(primary.archiveDir, key)));
    }

    const list = await runAwsAsPostgres(s3.endpoint, ['s3api', 'list-objects-v2', '--bucket', 'backups', '--prefix', 'wal/']);
    expect(list.code, list.stderr).toBe(0);
    const listed = (JSON.parse(list.stdout) as { Contents: Array<{ Key: string }> }).Contents.map((o) => o.Key);
    expect(listed).toContain(`wal/${segment}`);
    expect(listed).toContain(`wal/${scenario.backups.b1!.fileName}`);

    // An upload with the aws CLI is stored verbatim (no aws-chunked framing).
    const uploaded = await runAwsAsPostgres(s3.endpoint, ['s3', 'cp', '--only-show-errors', join(primary.archiveDir, 'base/b1/backup_label'), 's3://backups/roundtrip/backup_label']);
    expect(uploaded.code, uploaded.stderr).toBe(0);
    const roundtrip = join(downloads, 'roundtrip');
    expect((await runAwsAsPostgres(s3.endpoint, ['s3', 'cp', '--only-show-errors', 's3://backups/roundtrip/backup_label', roundtrip])).code).toBe(0);
    expect(await readFile(roundtrip, 'utf8')).toBe(await readFile(join(primary.archiveDir, 'base/b1/backup_label'), 'utf8'));

    // Failures. `s3 cp` exits 1 for a missing key AND for an unreachable endpoint, so
    // only its stderr tells them apart; `s3api` uses 254 (service answered with an
    // error) vs 255 (no answer), and the error code in stderr says which error.
    const missing = `wal/${'F'.repeat(24)}`;
    const outcomes: Record<string, { code: number | null; stderr: string }> = {};
    const attempt = async (name: string, args: string[], env: Record<string, string> = {}) => {
      const result = await runAwsAsPostgres(s3.endpoint, args, env);
      outcomes[name] = { code: result.code, stderr: result.stderr.trim() };
    };
    const cp = (key: string) => ['s3', 'cp', '--only-show-errors', `s3://backups/${key}`, join(downloads, 'out')];
    const getMissing = ['s3api', 'get-object', '--bucket', 'backups', '--key', missing, join(downloads, 'missing')];
    const getPresent = ['s3api', 'get-object', '--bucket', 'backups', '--key', `wal/${segment}`, join(downloads, 'present')];
    await attempt('s3 cp, missing key', cp(missing));
    await attempt('s3api get-object, missing key', getMissing);
    // (s3rver does not verify SigV4 signatures, only that the access key id exists.)
    await attempt('s3api get-object, unknown access key', getPresent, { AWS_ACCESS_KEY_ID: 'WRONG' });
    await attempt('s3 cp, unknown access key', cp(`wal/${segment}`), { AWS_ACCESS_KEY_ID: 'WRONG' });
    await s3.stop();
    await attempt('s3 cp, endpoint down', cp(`wal/${segment}`), { AWS_MAX_ATTEMPTS: '1' });
    await attempt('s3api get-object, endpoint down', getPresent, { AWS_MAX_ATTEMPTS: '1' });
    console.log(`aws CLI failure modes: ${JSON.stringify(outcomes, null, 2)}`);

    expect(outcomes['s3 cp, missing key']).toMatchObject({ code: 1, stderr: expect.stringMatching(/\(404\).*does not exist/) });
    expect(outcomes['s3 cp, endpoint down']).toMatchObject({ code: 1, stderr: expect.stringContaining('Could not connect to the endpoint URL') });
    expect(outcomes['s3 cp, unknown access key']).toMatchObject({ code: 1, stderr: expect.stringContaining('(403)') });
    expect(outcomes['s3api get-object, missing key']).toMatchObject({ code: 254, stderr: expect.stringContaining('NoSuchKey') });
    expect(outcomes['s3api get-object, unknown access key']).toMatchObject({ code: 254, stderr: expect.stringContaining('InvalidAccessKeyId') });
    expect(outcomes['s3api get-object, endpoint down']).toMatchObject({ code: 255, stderr: expect.stringContaining('Could not connect to the endpoint URL') });
  }, TEST_TIMEOUT);

  it('stand-ins: docker compose and kubectl answer, keep state and record every call', async () => {
    const standIns = installStandIns(root!);
    standIns.setComposeRunning(['api', 'celery', 'frontend']);
    standIns.setReplicas('api', 3);
    standIns.setReplicas('celery-worker', 2);
    const env = { ...process.env, PATH: `${standIns.binDir}:${process.env.PATH}` };
    const sh = (script: string) => run('bash', ['-c', script], { env, allowFailure: true });
    const compose = "docker compose -f '/srv/my app/docker-compose.yml'";

    expect((await sh(`${compose} ps --services --status running`)).stdout).toBe('api\ncelery\nfrontend\n');
    expect((await sh(`${compose} stop api celery`)).code).toBe(0);
    expect((await sh(`${compose} ps --services --status running`)).stdout).toBe('frontend\n');
    expect((await sh(`${compose} start celery`)).code).toBe(0);
    expect(standIns.composeRunning()).toEqual(['celery', 'frontend']);
    expect((await sh(`${compose} start nosuch`)).code).toBe(1);

    const kubectl = 'kubectl --context prod --namespace app';
    expect((await sh(`${kubectl} get deployment api -o jsonpath='{.spec.replicas}'`)).stdout).toBe('3');
    expect((await sh(`${kubectl} scale deployment api --replicas=0`)).code).toBe(0);
    expect((await sh(`${kubectl} get deployment api -o jsonpath='{.spec.replicas}'`)).stdout).toBe('0');
    expect(standIns.replicas('api')).toBe(0);
    expect(await sh(`${kubectl} get hpa -o jsonpath='{.items[*].metadata.name}'`)).toMatchObject({ code: 0, stdout: '' });
    const unknown = await sh(`${kubectl} get deployment nosuch -o jsonpath='{.spec.replicas}'`);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not found');
    expect((await sh(`${kubectl} delete deployment api`)).code).toBe(1);
    expect((await sh('docker run alpine')).code).toBe(1);

    const calls = standIns.readCalls();
    expect(calls[0]).toEqual(['docker', 'compose', '-f', '/srv/my app/docker-compose.yml', 'ps', '--services', '--status', 'running']);
    expect(calls).toContainEqual(['kubectl', '--context', 'prod', '--namespace', 'app', 'scale', 'deployment', 'api', '--replicas=0']);
    expect(calls).toHaveLength(12);

    // Arguments with quotes, backslashes and control characters survive the JSON record.
    const odd = 'a"b\\c\td\ne';
    await run(join(standIns.binDir, 'kubectl'), ['version', odd], { allowFailure: true });
    expect(standIns.readCalls().at(-1)).toEqual(['kubectl', 'version', odd]);
  });

  it('hostile database names reach the server intact through psqlAt', async () => {
    const db = `app's "db" = $(touch /tmp/pitr-e2e-pwned); -- é`;
    await primary.psql(`CREATE DATABASE ${quoteIdent(db)}`);
    await primary.psql(
      `CREATE TABLE accounts (id int PRIMARY KEY, name text);
       CREATE TABLE events (id serial PRIMARY KEY, account_id int);
       INSERT INTO accounts VALUES (1, 'x');`,
      db,
    );
    expect(await primary.psql('SELECT current_database()', db)).toBe(db);
    expect(await captureAppState(primary, db)).toEqual({ accounts: [{ id: 1, name: 'x' }], accountIds: [1], eventsCount: 0, eventIds: [] });
    expect(existsSync('/tmp/pitr-e2e-pwned')).toBe(false);
  });

  it('pg_basebackup layout and a gzip archive: files, history, pg_verifybackup', async () => {
    const gzRoot = join(root!, 'gzip');
    await mkdir(gzRoot);
    await chmod(gzRoot, 0o755);
    const gzPrimary = await startPrimary({ root: gzRoot, timezone: 'America/Sao_Paulo', walCompression: 'gzip' });
    postmasterPids.add(await gzPrimary.postmasterPid());
    await gzPrimary.psql('CREATE TABLE t AS SELECT generate_series(1, 1000) AS i');
    const history = await timed('pg_basebackup layout backup', () => takeBaseBackup(gzPrimary, { id: 'full-1', layout: 'pg_basebackup' }));
    expect(history.fileName).toMatch(/\.backup\.gz$/);
    expect(history.label).toBe('full-1');
    await gzPrimary.switchWal();

    const backupDir = join(gzRoot, 'archive/base/full-1');
    expect((await readdir(backupDir)).sort()).toEqual(['backup_manifest', 'base.tar.gz', 'pg_wal.tar.gz']);

    // Every archived file is gzipped: segments decompress to 16 MiB.
    const walFiles = await readdir(join(gzRoot, 'archive/wal'));
    expect(walFiles.every((name) => name.endsWith('.gz'))).toBe(true);
    const firstSegment = walFiles.find((name) => SEGMENT_NAME.test(name.replace(/\.gz$/, '')))!;
    expect(gunzipSync(await readFile(join(gzRoot, 'archive/wal', firstSegment))).length).toBe(16 * 1024 * 1024);

    // pg_verifybackup in 15 cannot read tar backups: extract base and pg_wal first.
    const extracted = join(gzRoot, 'verify');
    await extractTarGzAsPostgres(join(backupDir, 'base.tar.gz'), extracted);
    await runAsPostgres('tar', ['-xzf', join(backupDir, 'pg_wal.tar.gz'), '-C', join(extracted, 'pg_wal')]);
    const verify = await runAsPostgres(join(PG_BIN, 'pg_verifybackup'), ['-m', join(backupDir, 'backup_manifest'), extracted]);
    expect(verify.stdout).toContain('backup successfully verified');
    await gzPrimary.stop();
  }, TEST_TIMEOUT);

  it('zstd archive: every file is .zst, and readArchivedFile() undoes it', async () => {
    const zstRoot = join(root!, 'zstd');
    await mkdir(zstRoot);
    await chmod(zstRoot, 0o755);
    const zstPrimary = await startPrimary({ root: zstRoot, timezone: 'Asia/Kolkata', walCompression: 'zstd' });
    postmasterPids.add(await zstPrimary.postmasterPid());
    const history = await takeBaseBackup(zstPrimary, { id: 'z1', layout: 'tarball' });
    expect(history.fileName).toMatch(/\.backup\.zst$/);
    expect(history.stopTime).toMatch(/ IST$/);
    const segment = await zstPrimary.switchWal();
    const bytes = await readArchivedFile(join(zstRoot, 'archive/wal', `${segment}.zst`));
    expect(bytes.length).toBe(16 * 1024 * 1024);
    await zstPrimary.stop();
  }, TEST_TIMEOUT);
});
