// The side instance acts only inside workDir, whatever production's configuration says,
// and 06-recover calls "paused at the target" only when it is (issues 16, 12, 14).
//
// 1. Production as a promoted standby often looks: its postgresql.conf keeps
//    archive_cleanup_command = 'pg_archivecleanup <archive>/wal %r', a recovery_end_command
//    (here: touch a marker file) and a primary_conninfo to a port nobody listens on. After
//    the first base backup the primary is restarted with a HIGHER max_connections, and
//    after the scenario back to the default: the side instance then gets the default
//    (pg_control of the backup and production now both say so) while the WAL it replays
//    says 150, so PostgreSQL 15 pauses replay for settings before the target. drill.sh,
//    then run.sh: exact rows; every archive object present before is still there
//    byte-identical (sha256; only additions from production's own archiving); the marker
//    never appears. The side instance shuts down in recovery (the settings restart, the
//    drill's teardown), which performs a restartpoint after the restart's shutdown
//    checkpoint: production's archive_cleanup_command would run there.
// 2. Bounded wait: a side instance that answers no poll (SIGSTOP) makes 06-recover stop
//    with a diagnosis within recovery.stallTimeoutSeconds (5 s here). No timing is
//    asserted: the phase must end, and say why.
// 3. Isolation on the Debian layout: logging_collector on with an absolute log_directory,
//    Debian's external_pid_file under /var/run/postgresql. Production's data directory,
//    configuration directory, log directory, socket directory and pid file are checksummed
//    before and after drill.sh: identical.
//
// Binaries: Debian's PostgreSQL 15 (server and client programs) for everything.
// Run: npx vitest run test/e2e/side-isolation.test.ts   (needs root)

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FULL_VERIFY,
  buildIncidentScenario,
  captureAppState,
  chownToPostgres,
  cleanupHarnessRoot,
  compileBundle,
  createDebianCluster,
  createHarnessRoot,
  dataDirManifest,
  debianPostgres,
  dropDebianCluster,
  freePort,
  pgCtlCluster,
  psqlAt,
  quiesce,
  readPostmasterPid,
  run,
  startPrimary,
  startServer,
  testPlan,
  type DebianCluster,
  type Manifest,
  type PlanDocument,
  type Primary,
  type Scenario,
  type TestBundle,
} from './harness.js';

/** Every file under dir: relative path → sha256 (the archive is production data). */
function archiveListing(dir: string): Map<string, string> {
  const listing = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) listing.set(relative(dir, full), createHash('sha256').update(readFileSync(full)).digest('hex'));
    }
  };
  walk(dir);
  return listing;
}

/**
 * A running production rewrites its own WAL and pg_control at every checkpoint (the
 * snapshot itself forces one, so that every dirty page is on disk): their contents are
 * production's own doing and are masked. Every other file must be byte-identical, and no
 * file may appear or disappear anywhere, pg_wal included.
 */
// Production also rewrites, by itself, its relcache init files (pg_internal.init, at the
// first connection after an invalidation: the preflight connects) and system catalog
// pages whose hint bits its own queries set (files below the first user filenode,
// 16384). Those are masked too; every user relation file, every configuration and log
// file must be byte-identical.
const SYSTEM_CATALOG_FILE = /^(base\/\d+|global)\/([1-9]\d{0,3}|1[0-5]\d{3}|16[0-2]\d{2}|163[0-7]\d|1638[0-3])(_fsm|_vm)?(\.\d+)?$/;
function maskVolatile(manifest: Manifest): Manifest {
  const own = (path: string) =>
    (path.startsWith('pg_wal/') && !path.endsWith('/')) || path === 'global/pg_control' || SYSTEM_CATALOG_FILE.test(path);
  return Object.fromEntries(
    Object.entries(manifest)
      .filter(([path]) => !path.endsWith('/pg_internal.init'))
      .map(([path, sha]) => [path, own(path) ? 'rewritten by production itself' : sha]),
  );
}

/** What is gone or changed from `before` (additions are production's own archiving). */
function lostOrChanged(before: Map<string, string>, after: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [path, sha] of before) {
    const now = after.get(path);
    if (now === undefined) problems.push(`${path}: deleted`);
    else if (now !== sha) problems.push(`${path}: changed`);
  }
  return problems;
}

describe('a side instance inherits no command from production (pg_ctl layout, local archive)', () => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let marker: string;
  let archiveBefore: Map<string, string>;
  const bundles: Record<string, TestBundle> = {};

  const restartPrimary = async () => {
    await primary.stop();
    await startServer(primary);
  };

  const planFor = (name: string, extra: { stallTimeoutSeconds?: number; port: number }): PlanDocument => testPlan({
    name,
    description: `side isolation: ${name}`,
    root, primary, scenario,
    layout: 'tarball',
    sidePort: extra.port,
    overrides: {
      recovery: { workDir: join(root, `work-${name}`), drainTimeoutSeconds: 10, stallTimeoutSeconds: extra.stallTimeoutSeconds },
      runtime: { kind: 'none' },
      safetyBackup: { pgDump: false },
      verify: FULL_VERIFY,
    },
  });

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'Asia/Tokyo' });
    marker = join(root, 'recovery-end-command-ran');
    const deadPort = await freePort();
    // A promoted standby's leftovers: they act only while a server is in recovery.
    const conf = join(primary.dataDir, 'postgresql.conf');
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}
# production was a standby once
archive_cleanup_command = 'pg_archivecleanup ${join(primary.archiveDir, 'wal')} %r'
recovery_end_command = 'touch ${marker}'
primary_conninfo = 'host=127.0.0.1 port=${deadPort} user=replicator connect_timeout=2'
`);
    await restartPrimary();
    scenario = await buildIncidentScenario(primary, {
      layout: 'tarball',
      // The primary raises max_connections after b1: the WAL records 150.
      afterFirstBackup: async () => {
        await primary.psql('ALTER SYSTEM SET max_connections = 150');
        await restartPrimary();
      },
    });
    // ... and production is back at the default when the plan runs: the side instance
    // gets 100 from production and from b1's pg_control, lower than the WAL's 150.
    await primary.psql('ALTER SYSTEM RESET max_connections');
    await restartPrimary();
    expect(await primary.psql('SHOW max_connections')).toBe('100');
    await primary.switchWal();
    archiveBefore = archiveListing(primary.archiveDir);
    bundles.main = compileBundle(root, planFor('side-iso', { port: await freePort() }));
    bundles.stall = compileBundle(root, planFor('side-stall', { port: await freePort(), stallTimeoutSeconds: 5 }));
  }, 300_000);

  afterAll(async () => {
    await cleanupHarnessRoot(root);
  }, 120_000);

  const runScript = (bundle: TestBundle, script: string, args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}) => bundle.run(script, args, { env: extraEnv });

  it('RUNBOOK.md names every overridden setting and what acts on the archive after the swap', () => {
    const runbook = readFileSync(join(bundles.main!.dir, 'RUNBOOK.md'), 'utf8');
    for (const name of ['archive_cleanup_command', 'recovery_end_command', 'primary_conninfo', 'primary_slot_name', 'archive_command', 'archive_library', 'restore_command', 'external_pid_file', 'cluster_name', 'huge_pages', 'shared_buffers', 'max_connections']) {
      expect(runbook, name).toContain(`| \`${name}\` |`);
    }
    expect(runbook).toContain("archive_cleanup_command = ''");
    expect(runbook).toContain('After the swap: production\'s own settings act again');
  });

  it('drill.sh: preflight names the overrides; replay pauses for max_connections, is raised to 150 and reaches the target', async () => {
    const pidBefore = await primary.postmasterPid();
    const result = await runScript(bundles.main!, 'drill.sh');
    expect(result.code, result.stderr.slice(-6000)).toBe(0);
    // Preflight: production's value beside the side instance's.
    expect(result.stderr).toContain(`archive_cleanup_command: 'pg_archivecleanup ${join(primary.archiveDir, 'wal')} %r' → ''`);
    expect(result.stderr).toContain(`recovery_end_command: 'touch ${marker}' → ''`);
    expect(result.stderr).toMatch(/primary_conninfo: 'host=127\.0\.0\.1 [^']*' → ''/);
    // The settings pause is not the target: raised, started again, then the target.
    expect(result.stderr).toContain('replay needs max_connections = 150 (the side instance had 100)');
    expect(result.stderr).toContain('paused at the target');
    expect(result.stderr).toContain('verification passed');
    expect(await primary.postmasterPid()).toBe(pidBefore);
    expect(await captureAppState(primary, scenario.db)).toEqual(scenario.final);
    expect(existsSync(marker), 'recovery_end_command ran').toBe(false);
    expect(lostOrChanged(archiveBefore, archiveListing(primary.archiveDir))).toEqual([]);
  }, 600_000);

  it('a side instance that answers no poll (SIGSTOP) makes 06-recover stop with a diagnosis within recovery.stallTimeoutSeconds', async () => {
    const bundle = bundles.stall!;
    const kept = await runScript(bundle, 'drill.sh', ['--keep']);
    expect(kept.code, kept.stderr.slice(-6000)).toBe(0);
    const sideData = join(root, 'work-side-stall', 'data');
    const pid = await readPostmasterPid(sideData);
    expect(pid).toBeDefined();
    // Follow the kept side instance again, as a resumed run does, while it cannot answer.
    const state = join(bundle.dir, 'state', 'drill');
    rmSync(join(state, 'done', '06-recover'));
    process.kill(pid!, 'SIGSTOP');
    let result;
    try {
      result = await runScript(bundle, 'phases/06-recover.sh', [], { PITR_STATE_DIR: state, PITR_STATE_ROOT: join(bundle.dir, 'state'), PITR_RESUME_CMD: './drill.sh', PITR_UNDO_CMD: './drill.sh --teardown' });
    } finally {
      process.kill(pid!, 'SIGCONT');
    }
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain('side instance already running');
    expect(result.stderr).toMatch(/answered no poll for 5 s \(recovery\.stallTimeoutSeconds; last: [^)]*\) \(postmaster pid \d+, process state T;/);
    expect(result.stderr).toMatch(/FAIL \[06-recover\] next: .*\.\/drill\.sh --teardown/);
    const teardown = await runScript(bundle, 'drill.sh', ['--teardown']);
    expect(teardown.code, teardown.stderr).toBe(0);
    expect(existsSync(sideData)).toBe(false);
  }, 600_000);

  it('run.sh --yes recovers exactly; the archive lost nothing; recovery_end_command never ran', async () => {
    const result = await runScript(bundles.main!, 'run.sh', ['--yes']);
    expect(result.code, result.stderr.slice(-6000)).toBe(0);
    expect(await captureAppState(primary, scenario.db)).toEqual(scenario.expected);
    expect(await primary.psql('SELECT pg_is_in_recovery()')).toBe('f');
    // Production runs its own settings again: archiving on, the standby's leftovers idle.
    expect(await primary.psql('SHOW archive_mode')).toBe('on');
    expect(await primary.psql('SHOW archive_cleanup_command')).toContain('pg_archivecleanup');
    await primary.switchWal();
    const after = archiveListing(primary.archiveDir);
    expect(lostOrChanged(archiveBefore, after)).toEqual([]);
    expect(after.size).toBeGreaterThan(archiveBefore.size);
    expect(existsSync(marker), 'recovery_end_command ran').toBe(false);
  }, 900_000);
});

describe('isolation on the Debian layout: the side instance writes none of production\'s files', () => {
  let root: string | undefined;
  let cluster: DebianCluster | undefined;
  let clusterName: string | undefined;
  let scenario: Scenario;
  let bundle: TestBundle;
  let logDir: string;

  beforeAll(async () => {
    root = await createHarnessRoot();
    clusterName = `pitre2e${randomBytes(4).toString('hex')}`;
    cluster = await createDebianCluster({ root, timezone: 'America/Sao_Paulo', name: clusterName });
    logDir = join(root, 'pglog');
    mkdirSync(logDir, { recursive: true });
    await chownToPostgres(logDir);
    // Production logs through its collector into an absolute directory; it is kept silent
    // so that any byte written there during the drill is someone else's.
    const confFile = join(cluster.configDir, 'conf.d', 'pitr-isolation.conf');
    writeFileSync(confFile, [
      'logging_collector = on',
      `log_directory = '${logDir}'`,
      "log_filename = 'postgresql.log'",
      'log_min_messages = fatal',
      'log_min_error_statement = panic',
      'log_checkpoints = off',
      'log_autovacuum_min_duration = -1',
      '',
    ].join('\n'));
    await chownToPostgres(confFile);
    await pgCtlCluster(clusterName, 'restart');
    expect(await cluster.psql('SHOW logging_collector')).toBe('on');
    scenario = await buildIncidentScenario(cluster, { layout: 'tarball' });
    await quiesce({ socketDir: cluster.socketDir, port: cluster.port }, scenario.db);
    bundle = compileBundle(root, testPlan({
      name: 'side-iso-debian',
      description: 'side isolation on the Debian layout',
      root, primary: cluster, scenario,
      layout: 'tarball',
      sidePort: await freePort(),
      overrides: {
        postgres: debianPostgres(cluster),
        recovery: { drainTimeoutSeconds: undefined },
        runtime: { kind: 'none' },
        safetyBackup: { pgDump: false },
        verify: FULL_VERIFY,
      },
    }));
  }, 300_000);

  afterAll(async () => {
    if (clusterName) await dropDebianCluster(clusterName);
    await cleanupHarnessRoot(root);
  }, 300_000);

  it('drill.sh: production\'s data, configuration, log, socket directories and pid file are byte-identical', async () => {
    const c = cluster!;
    const pidFile = await c.psql('SHOW external_pid_file');
    expect(pidFile).toMatch(/^\/var\/run\/postgresql\/15-/);
    const snapshot = async (): Promise<Record<string, Manifest | string>> => {
      await c.psql('CHECKPOINT');
      return {
        data: maskVolatile(await dataDirManifest(c.dataDir)),
        config: await dataDirManifest(c.configDir),
        log: await dataDirManifest(logDir),
        sockets: await dataDirManifest(c.socketDir),
        pidFile: readFileSync(pidFile, 'utf8'),
        pidFileMtime: String(statSync(pidFile).mtimeMs),
      };
    };
    const before = await snapshot();
    const pidBefore = await c.postmasterPid();
    const result = await bundle.run('drill.sh');
    expect(result.code, result.stderr.slice(-6000)).toBe(0);
    expect(result.stderr).toContain('paused at the target');
    expect(result.stderr).toContain("logging_collector: 'on' → 'off'");
    expect(result.stderr).toContain(`cluster_name: '${c.cluster}' → 'pitr-side-side-iso-debian'`);
    expect(await c.postmasterPid()).toBe(pidBefore);
    const after = await snapshot();
    expect(after).toEqual(before);
    expect(await captureAppState({ socketDir: c.socketDir, port: c.port }, scenario.db)).toEqual(scenario.final);
    expect(await psqlAt({ socketDir: c.socketDir, port: c.port, sql: 'SELECT pg_is_in_recovery()' })).toBe('f');
  }, 600_000);
});
