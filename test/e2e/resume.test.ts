// The fault matrix, part 2: a run that is killed, or that races another run.
//
//   6. a second run.sh (or drill.sh, rollback.sh) while one is running is refused by the
//      lock (exit 3) and changes nothing;
//   7. kill -9 of run.sh AND its process group (what a dying terminal does; the phases
//      run as child bash processes) during fetch, during recover and during finalize:
//      re-running run.sh completes and recovers exactly the scenario's expected state,
//      or rollback.sh puts production back exactly: both are shown;
//   8. rollback.sh after a successful finalize brings back the pre-recovery data
//      directory file for file (pg_ctl service kind), then the pre-recovery rows.
// rollback.sh is idempotent: run again, it finds nothing to do, says so and exits 0.
//
// The moments are chosen deterministically with blockers (lib/blockers.ts): a wrapper
// first on PATH holds one exact command until the test lets it go or kills it —
//   fetch:    `cat -- <archive>/base/...` (streaming the base backup, local archive),
//             while the background WAL stager runs: it leads its own session, so it
//             survives the kill, and rollback.sh or the resumed run must deal with it;
//   recover:  `cp -- <workDir>/wal-staging/<segment> ...` in the side instance's
//             restore_command (replay waits there; the side instance survives the kill:
//             pg_ctl puts servers in their own session);
//   finalize: `mv -T -- <workDir>/data <dataDir>` (production stopped and renamed
//             aside, the recovered directory not yet moved in: the worst moment);
//   rollback: `runuser ... pg_ctl -D <dataDir> ... start`, so the data directory moved
//             back can be checksummed before a server touches it.
//
// "Production unchanged" as in faults.test.ts (relation files of the application
// database + the data directory's inode, see lib/manifest.ts); where production was
// stopped by finalize, the whole directory is compared file by file (dataDirManifest)
// between the moment it was renamed aside and the moment rollback moved it back.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NOT_AFTER_TARGET,
  buildIncidentScenario,
  captureAppState,
  cleanupHarnessRoot,
  compileBundle,
  composeRuntime,
  createHarnessRoot,
  dataDirManifest,
  freePort,
  installBlockers,
  installComposeStandIns,
  isProcessAlive,
  killProcessGroup,
  quiesce,
  readPostmasterPid,
  productionFingerprint,
  relationManifest,
  run,
  startDetached,
  startPrimary,
  testPlan,
  waitFor,
  type Blockers,
  type DetachedRun,
  type Primary,
  type RelationManifest,
  type RunResult,
  type Scenario,
  type StandIns,
  type TestBundle,
} from './harness.js';

const PLAN = 'resume';

describe('kill -9 at any moment, and a second run meanwhile: resume completes, or rollback restores', () => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let standIns: StandIns;
  let blockers: Blockers;
  let archiveDir: string;
  let bundle: TestBundle;
  let workDir: string;
  let sidePort: number;
  let before: RelationManifest;
  /** WAL segments of the scenario: b1's first, and the one after it. */
  let segmentAfterStart: string;
  const server = () => ({ socketDir: primary.socketDir, port: primary.port });
  const composeCmd = () => ['docker', 'compose', '-f', join(root, 'compose.yml')];

  beforeAll(async () => {
    root = await createHarnessRoot();
    // gzip-compressed WAL: a local archive is then staged by the background stager.
    primary = await startPrimary({ root, timezone: 'Asia/Tokyo', walCompression: 'gzip' });
    scenario = await buildIncidentScenario(primary, { layout: 'tarball', segmentsBeforeTarget: 2 });
    await quiesce(server(), scenario.db);
    // The plan reads a copy of the archive as it was after the scenario: recovered
    // servers (timeline 2) archive into the primary's archive, which no plan reads.
    archiveDir = join(root, 'archive-pristine');
    await run('cp', ['-a', primary.archiveDir, archiveDir]);
    const segments = readdirSync(join(archiveDir, 'wal')).filter((n) => /^[0-9A-F]{24}\.gz$/.test(n)).map((n) => n.slice(0, 24)).sort();
    segmentAfterStart = segments[segments.indexOf(scenario.backups.b1!.startWalFile) + 1]!;

    standIns = installComposeStandIns(root, ['api', 'celery']);
    blockers = installBlockers(root);

    workDir = join(root, 'work');
    sidePort = await freePort();
    const plan = testPlan({
      name: PLAN,
      description: 'kill -9 and resume',
      root, primary, scenario,
      layout: 'tarball',
      walCompression: 'gzip',
      sidePort,
      overrides: {
        source: { path: archiveDir },
        recovery: { workDir, parallelism: 4 },
        runtime: composeRuntime(root, ['api', 'celery', 'frontend']),
        verify: { notAfterTarget: NOT_AFTER_TARGET },
      },
    });
    bundle = compileBundle(root, plan, { pathFirst: [blockers.binDir, standIns.binDir] });
    before = await relationManifest(server(), primary.dataDir, scenario.db);
  }, 300_000);

  afterAll(async () => {
    for (const started of detached) await killProcessGroup(started);
    blockers?.releaseAll();
    await cleanupHarnessRoot(root);
  }, 120_000);

  const script = (name: string, args: string[] = []): Promise<RunResult> => bundle.run(name, args);
  /** Every run started in its own process group, killed in afterAll if a case failed early. */
  const detached: DetachedRun[] = [];
  const startRun = () => {
    const started = startDetached('bash', [join(bundle.dir, 'run.sh'), '--yes'], { env: bundle.env });
    detached.push(started);
    return started;
  };
  const stateDir = () => join(bundle.dir, 'state');
  const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);
  const asideDirs = () => readdirSync(join(root, 'primary')).filter((n) => n.startsWith('data.pre-pitr-'));
  const runId = () => readFileSync(join(stateDir(), 'values', 'run-id'), 'utf8').trim();

  /** Production serves its pre-recovery data: the same directory, the same relation files. */
  const expectPreRecoveryProduction = async () => {
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.final);
    expect(await relationManifest(server(), primary.dataDir, scenario.db)).toEqual(before);
    expect(Number(await primary.psql('SELECT timeline_id FROM pg_control_checkpoint()'))).toBe(1);
  };

  /** A recovered server on timeline 2 archived into the primary's archive: forget it. */
  // Each case starts from the same archive: the timelines a finalized run added go, from
  // production's archive and from the plan's copy (finalize stores the new timeline's
  // history file there itself when production's archiver does not: issue 13). Left in
  // the plan's archive, 'latest' would follow timeline 2, which holds no commit after
  // the target.
  const forgetRecoveredTimelines = () => {
    for (const walDir of [join(primary.archiveDir, 'wal'), join(archiveDir, 'wal')]) {
      for (const name of readdirSync(walDir)) if (!name.startsWith('00000001')) rmSync(join(walDir, name));
    }
  };

  /** rollback.sh run again: nothing to do, says so, exits 0, calls nothing. */
  const expectSecondRollbackIsNoop = async () => {
    const calls = standIns.readCalls().length;
    const pid = await primary.postmasterPid();
    const again = await script('rollback.sh', ['--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/nothing to roll back: run \d{8}T\d{6}Z was already rolled back at /);
    expect(standIns.readCalls().length).toBe(calls);
    expect(await primary.postmasterPid()).toBe(pid);
  };

  /** The rollback, held just before it starts production, to checksum what it moved back. */
  const rollbackWithManifest = async () => {
    const gate = blockers.block('runuser', [`-D ${primary.dataDir} -l `, ' start ']);
    const rollback = script('rollback.sh', ['--yes']);
    await gate.reached();
    const movedBack = await dataDirManifest(primary.dataDir);
    gate.release();
    return { result: await rollback, movedBack };
  };

  it('6 + 7a. kill -9 during fetch; meanwhile a second run, a drill and a rollback are refused by the lock; rollback.sh restores', async () => {
    const calls = standIns.readCalls().length;
    const pidBefore = await primary.postmasterPid();
    const gate = blockers.block('cat', [`-- ${archiveDir}/base/`]);
    const first = startRun();
    await gate.reached();
    // The stager was started before the base backup streams.
    expect(existsSync(join(workDir, 'wal-staging', '.stager.log'))).toBe(true);

    // 6. The lock: each refused with exit 3, naming the holder, changing nothing.
    const state = () => ({ done: listing(join(stateDir(), 'done')), values: listing(join(stateDir(), 'values')), work: listing(workDir), calls: standIns.readCalls().length });
    const stateBefore = state();
    for (const [name, args] of [['run.sh', ['--yes']], ['drill.sh', []], ['rollback.sh', ['--yes']]] as const) {
      const refused = await script(name, [...args]);
      expect(refused.code, `${name}: ${refused.stderr}`).toBe(3);
      expect(refused.stderr).toMatch(new RegExp(`another pitr-plan script of this bundle is running \\(pid and script: ${first.pid} \\S*run\\.sh\\)`));
      expect(refused.stderr).toContain('Nothing was done');
      expect(refused.stderr).toContain(`then run ./${name} again`);
      if (name === 'run.sh') console.log(refused.stderr.trim());
    }
    expect(state()).toEqual(stateBefore);
    expect(stateBefore.done).toEqual(['00-preflight', '01-assess', '02-stop-services', '03-safety-backup']);

    // 7a. The terminal dies: run.sh and every process of its group.
    const killed = await killProcessGroup(first);
    expect(killed.signal).toBe('SIGKILL');
    expect(readFileSync(join(stateDir(), 'running-phase'), 'utf8').trim()).toBe('04-fetch');
    expect(standIns.composeRunning(), 'services stay stopped after the kill').toEqual([]);
    expect(await primary.postmasterPid()).toBe(pidBefore);

    const rollback = await script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(rollback.stderr).toContain('the previous run was interrupted inside phase 04-fetch');
    expect(rollback.stderr).toContain('rollback complete');
    expect(standIns.readCalls().slice(calls)).toEqual([
      [...composeCmd(), 'ps', '--services', '--status', 'running'],
      [...composeCmd(), 'stop', 'api', 'celery'],
      [...composeCmd(), 'start', 'api', 'celery'],
    ]);
    expect(standIns.composeRunning()).toEqual(['api', 'celery']);
    expect(existsSync(workDir), 'the partial fetch is removed').toBe(false);
    const stagers = await run('pgrep', ['-f', join(workDir, 'bin', 'stage-wal.sh')], { allowFailure: true });
    expect(stagers.stdout.trim(), 'no WAL stager survives the rollback').toBe('');
    expect(await primary.postmasterPid(), 'production was never restarted').toBe(pidBefore);
    await expectPreRecoveryProduction();
    await expectSecondRollbackIsNoop();
  }, 600_000);

  it('7b + 8. kill -9 during recover; re-running run.sh completes to exactly the target; rollback.sh after finalize brings back every file', async () => {
    // Taken BEFORE run.sh: what rollback must bring back (relation files, configuration).
    const fingerprint = () => productionFingerprint({ server: server(), dataDir: primary.dataDir, db: scenario.db });
    const beforeRun = await fingerprint();
    const calls = standIns.readCalls().length;
    const gate = blockers.block('cp', [`${workDir}/wal-staging/${segmentAfterStart} `]);
    const first = startRun();
    await gate.reached();
    // Replay is waiting for that segment; the recover phase is following it.
    await waitFor(async () => readFileSync(join(stateDir(), 'run.log'), 'utf8').includes('=== phase 06-recover ===') || undefined, {
      description: 'phase 06-recover to run',
    });
    await killProcessGroup(first);
    const sidePid = await readPostmasterPid(join(workDir, 'data'));
    expect(sidePid !== undefined && isProcessAlive(sidePid), 'the side instance outlives the killed script').toBe(true);
    expect(readFileSync(join(stateDir(), 'run.log'), 'utf8')).not.toContain('paused at the target');
    gate.release();

    const rerun = await script('run.sh', ['--yes']);
    expect(rerun.code, rerun.stderr.slice(-5000)).toBe(0);
    expect(rerun.stderr).toContain('the previous run was interrupted inside phase 06-recover');
    expect(rerun.stderr).toContain('already done: 04-fetch');
    expect(rerun.stderr).toContain('side instance already running (started by an earlier attempt)');
    expect(rerun.stderr).toContain('paused at the target');
    expect(rerun.stderr).toContain('verification passed');
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);
    expect(standIns.readCalls().slice(calls)).toEqual([
      [...composeCmd(), 'ps', '--services', '--status', 'running'],
      [...composeCmd(), 'stop', 'api', 'celery'],
      [...composeCmd(), 'start', 'api', 'celery'],
    ]);

    // Secrets at rest: the state directory, the run log, the dump and its checksum.
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(stateDir())).toBe(0o700);
    expect(mode(join(stateDir(), 'run.log'))).toBe(0o600);
    for (const name of listing(join(stateDir(), 'values'))) expect(mode(join(stateDir(), 'values', name)), name).toBe(0o600);
    const dump = readFileSync(join(stateDir(), 'values', 'safety-dump'), 'utf8').trim();
    expect(mode(dump)).toBe(0o600);
    expect(mode(`${dump}.sha256`)).toBe(0o600);
    expect(mode(join(root, 'safety'))).toBe(0o700);

    // 8. rollback.sh after a successful finalize: file for file, then the rows.
    const id = runId();
    const aside = join(root, 'primary', `data.pre-pitr-${id}`);
    const setAside = await dataDirManifest(aside);
    const callsBeforeRollback = standIns.readCalls().length;
    const { result, movedBack } = await rollbackWithManifest();
    expect(result.code, result.stderr).toBe(0);
    expect(movedBack).toEqual(setAside);
    expect(Object.keys(movedBack).length).toBeGreaterThan(500);
    expect(existsSync(aside)).toBe(false);
    expect(existsSync(join(root, 'primary', `data.recovered-${id}`, 'PG_VERSION'))).toBe(true);
    expect(standIns.readCalls().slice(callsBeforeRollback)).toEqual([
      [...composeCmd(), 'stop', 'api', 'celery'],
      [...composeCmd(), 'start', 'api', 'celery'],
    ]);
    expect(standIns.composeRunning()).toEqual(['api', 'celery']);
    await expectPreRecoveryProduction();
    expect(await fingerprint()).toEqual(beforeRun);
    await expectSecondRollbackIsNoop();
    forgetRecoveredTimelines();
  }, 900_000);

  it('7c. kill -9 during finalize, after production was renamed aside: re-running run.sh completes', async () => {
    const gate = blockers.block('mv', [`-T -- ${workDir}/data ${primary.dataDir} `]);
    const first = startRun();
    await gate.reached();
    await killProcessGroup(first);
    // Production is down, its directory renamed aside, the recovered one not moved in.
    expect(existsSync(primary.dataDir)).toBe(false);
    expect(asideDirs()).toHaveLength(1);
    expect(existsSync(join(workDir, 'data', 'PG_VERSION'))).toBe(true);

    const rerun = await script('run.sh', ['--yes']);
    expect(rerun.code, rerun.stderr.slice(-5000)).toBe(0);
    expect(rerun.stderr).toContain('the previous run was interrupted inside phase 08-finalize');
    expect(rerun.stderr).toMatch(/finalize resumes; steps already done: .*moved-aside/);
    expect(rerun.stderr).toContain('production data already at');
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);
    expect(Number(await primary.psql('SELECT timeline_id FROM pg_control_checkpoint()'))).toBe(2);
    expect(standIns.composeRunning()).toEqual(['api', 'celery']);

    // Put production back for the next case.
    const rollback = await script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    await expectPreRecoveryProduction();
    forgetRecoveredTimelines();
  }, 900_000);

  it('7e. kill -9 right after the rename aside, before it was recorded, then dataDir reappears: the re-run refuses and says what to do; done, it completes', async () => {
    // state_set aside-dir is the rename's record: stop just before it lands.
    const gate = blockers.block('mv', [`${stateDir()}/values/aside-dir `]);
    const first = startRun();
    await gate.reached();
    await killProcessGroup(first);
    const aside = join(root, 'primary', `data.pre-pitr-${runId()}`);
    expect(existsSync(join(aside, 'PG_VERSION'))).toBe(true);
    expect(existsSync(primary.dataDir)).toBe(false);
    // Something creates the data directory again (an init script, a package upgrade...).
    mkdirSync(primary.dataDir);
    writeFileSync(join(primary.dataDir, 'PG_VERSION'), '15\n');

    const refused = await script('run.sh', ['--yes']);
    expect(refused.code, refused.stderr).toBe(1);
    console.log(refused.stderr.split('\n').filter((l) => l.includes(' FAIL [')).join('\n'));
    expect(refused.stderr).toContain(`both ${primary.dataDir} and ${aside} exist. ${aside} is production's data directory, renamed aside by this run`);
    expect(refused.stderr).toContain(`next: look at ${primary.dataDir}; if it holds nothing you need, move it away (mv ${primary.dataDir} ${primary.dataDir}.unexpected), then resume with ./run.sh`);
    expect(refused.stderr).toContain('phase 08-finalize failed');
    expect(existsSync(join(aside, 'PG_VERSION')), 'nothing was moved').toBe(true);

    // The operator does what it says.
    await run('mv', [primary.dataDir, `${primary.dataDir}.unexpected`]);
    const rerun = await script('run.sh', ['--yes']);
    expect(rerun.code, rerun.stderr.slice(-5000)).toBe(0);
    expect(rerun.stderr).toContain('(renamed before an interruption)');
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);

    const rollback = await script('rollback.sh', ['--yes']);
    expect(rollback.code, rollback.stderr).toBe(0);
    await expectPreRecoveryProduction();
    forgetRecoveredTimelines();
    rmSync(`${primary.dataDir}.unexpected`, { recursive: true });
  }, 900_000);

  it('7d. kill -9 during finalize at the same moment: rollback.sh restores production exactly', async () => {
    const calls = standIns.readCalls().length;
    const gate = blockers.block('mv', [`-T -- ${workDir}/data ${primary.dataDir} `]);
    const first = startRun();
    await gate.reached();
    await killProcessGroup(first);
    const [aside] = asideDirs().filter((n) => n.endsWith(runId()));
    expect(aside).toBeDefined();
    const setAside = await dataDirManifest(join(root, 'primary', aside!));

    const { result, movedBack } = await rollbackWithManifest();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('the previous run was interrupted inside phase 08-finalize');
    expect(result.stderr).toContain('pre-recovery data directory moved back');
    expect(movedBack).toEqual(setAside);
    // The recovered copy was never moved in: it is discarded with the side instance.
    expect(existsSync(join(workDir, 'data'))).toBe(false);
    expect(standIns.readCalls().slice(calls)).toEqual([
      [...composeCmd(), 'ps', '--services', '--status', 'running'],
      [...composeCmd(), 'stop', 'api', 'celery'],
      [...composeCmd(), 'start', 'api', 'celery'],
    ]);
    await expectPreRecoveryProduction();
    await expectSecondRollbackIsNoop();
  }, 900_000);
});
