// End to end on the Debian layout the runbook describes: a cluster made by
// pg_createcluster (configuration in /etc/postgresql/15/<name>/, conf.d included),
// started and stopped with pg_ctlcluster, server timezone America/Sao_Paulo, archiving
// into a local archive (tarball layout). The plan names the configFile, so the side
// instance runs from a config directory (workDir/side-conf) that includes production's
// postgresql.conf and overrides data_directory; finalize stops and starts production
// through pg_ctlcluster; rollback.sh runs after finalize and must bring the
// post-incident data back.
//
// Run: npx vitest run test/e2e/debian-cluster.test.ts   (needs root and PostgreSQL 15
// with postgresql-common; PITR_E2E_KEEP=1 keeps the harness root, not the cluster).

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FULL_VERIFY,
  buildIncidentScenario,
  captureAppState,
  cleanupHarnessRoot,
  compileBundle,
  createDebianCluster,
  createHarnessRoot,
  debianPostgres,
  dropDebianCluster,
  freePort,
  lsCluster,
  productionFingerprint,
  psqlAt,
  quiesce,
  readPostmasterPid,
  run,
  testPlan,
  type DebianCluster,
  type PlanDocument,
  type Scenario,
  type TestBundle,
} from './harness.js';

const TIMEZONE = 'America/Sao_Paulo';
const PLAN_NAME = 'e2e-debian';

function planFor(ctx: { root: string; cluster: DebianCluster; scenario: Scenario; sidePort: number }): PlanDocument {
  const { root, cluster, scenario, sidePort } = ctx;
  return testPlan({
    name: PLAN_NAME,
    description: `end-to-end: Debian cluster ${cluster.cluster} (pg_ctlcluster, configFile in /etc)`,
    root, primary: cluster, scenario,
    layout: 'tarball',
    sidePort,
    overrides: {
      postgres: debianPostgres(cluster),
      recovery: { parallelism: 4 },
      runtime: { kind: 'none' },
      verify: FULL_VERIFY,
    },
  });
}

async function leftoverProcesses(patterns: string[]): Promise<string> {
  const found: string[] = [];
  for (const pattern of patterns) {
    const result = await run('pgrep', ['-a', '-f', '--', pattern], { allowFailure: true });
    found.push(...result.stdout.split('\n').filter((line) => line.trim() !== ''));
  }
  return found.join('\n');
}

describe('PITR end to end on a Debian cluster (pg_createcluster / pg_ctlcluster, configFile in /etc)', () => {
  let root: string | undefined;
  let cluster: DebianCluster | undefined;
  let clusterName: string | undefined;
  let scenario: Scenario;
  let bundle: TestBundle;
  /** The run id of run.sh, read from the name of the renamed-aside data directory. */
  let runId: string | undefined;

  const server = () => ({ socketDir: cluster!.socketDir, port: cluster!.port });

  beforeAll(async () => {
    root = await createHarnessRoot();
    // Named before it exists, so afterAll drops it even if creating it fails halfway.
    clusterName = `pitre2e${randomBytes(4).toString('hex')}`;
    cluster = await createDebianCluster({ root, timezone: TIMEZONE, name: clusterName });
    // The layout the test is about, as pg_lsclusters and the server see it.
    expect(await lsCluster(cluster.name)).toMatchObject({ port: cluster.port, status: 'online', dataDir: cluster.dataDir });
    expect(await cluster.psql('SHOW config_file')).toBe(cluster.configFile);
    expect(await cluster.psql('SHOW timezone')).toBe(TIMEZONE);
    expect(await cluster.psql('SHOW archive_mode')).toBe('on');

    scenario = await buildIncidentScenario(cluster, { layout: 'tarball' });
    // Reading the tables must not rewrite their pages, or the checksums prove nothing.
    await quiesce({ socketDir: cluster.socketDir, port: cluster.port }, scenario.db);
    expect(scenario.target.serverOffset).toBe('-03:00');
    expect(scenario.target.writtenOffset).not.toBe(scenario.target.serverOffset);

    bundle = compileBundle(root, planFor({ root, cluster, scenario, sidePort: await freePort() }));
  }, 900_000);

  afterAll(async () => {
    const problems: string[] = [];
    if (clusterName) problems.push(...(await dropDebianCluster(clusterName)));
    await cleanupHarnessRoot(root);
    const patterns = [...(clusterName ? [clusterName] : []), ...(root ? [root] : [])];
    const leftover = patterns.length > 0 ? await leftoverProcesses(patterns) : '';
    if (clusterName) expect(await lsCluster(clusterName), 'pg_lsclusters after pg_dropcluster').toBeUndefined();
    expect(leftover, `processes left behind (problems: ${problems.join('; ') || 'none'})`).toBe('');
  }, 300_000);

  const runScript = (script: string, args: string[] = []) => bundle.run(script, args);

  const stateLog = () => join(bundle.dir, 'state', 'run.log');

  /** No process (e.g. a server a script started) may keep holding the bundle's lock after a script exits. */
  const expectLockFree = async () => {
    const lock = join(bundle.dir, 'state', 'lock');
    const probe = await run('flock', ['-n', lock, 'true'], { allowFailure: true });
    expect(probe.code, `${lock} is still held, open in:\n${processesWithOpen(lock).join('\n')}`).toBe(0);
  };

  it('drill.sh rehearses through the side config directory and leaves production untouched', async () => {
    const c = cluster!;
    const pidBefore = await c.postmasterPid();
    // Relation files, postgresql.auto.conf in the data directory, and every file of
    // /etc/postgresql/15/<cluster>/ (postgresql.conf, pg_hba.conf, conf.d/...).
    const fingerprint = () => productionFingerprint({ server: server(), dataDir: c.dataDir, db: scenario.db, configDirs: [c.configDir] });
    const before = await fingerprint();
    expect(Object.keys(before.configDirs)).toEqual(expect.arrayContaining([join(c.configDir, 'postgresql.conf'), join(c.configDir, 'pg_hba.conf')]));
    expect(Object.keys(before.dataDirConfig)).toContain('postgresql.auto.conf');
    const result = await runScript('drill.sh');
    expect(result.code, result.stderr.slice(-6000)).toBe(0);
    expect(result.stderr).toContain(`base backup: ${scenario.expectedBackupId} `);
    expect(result.stderr).toContain('paused at the target');
    expect(result.stderr).toContain('verification passed');
    // The side instance was started from workDir/side-conf (Debian layout), not from the copy.
    expect(readFileText(join(bundle.dir, 'state', 'drill', 'run.log'))).toContain(join(root!, 'work', 'side-conf'));
    expect(await c.postmasterPid()).toBe(pidBefore);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.final);
    expect(await fingerprint()).toEqual(before);
    expect((await lsCluster(c.name))?.status).toBe('online');
    // The drill cleaned up after itself.
    expect(existsSync(join(root!, 'work', 'data'))).toBe(false);
    expect(existsSync(join(root!, 'work', 'side-conf'))).toBe(false);
    await expectLockFree();
  }, 600_000);

  it('run.sh --yes recovers production to exactly the target and restarts it through pg_ctlcluster', async () => {
    const c = cluster!;
    const pidBefore = await c.postmasterPid();
    const result = await runScript('run.sh', ['--yes']);
    expect(result.code, `${result.stderr.slice(-6000)}\n--- run.log ---\n${readFileText(stateLog()).slice(-4000)}`).toBe(0);
    expect(result.stderr).toContain(`base backup: ${scenario.expectedBackupId} `);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);

    // Production was stopped and started again, through pg_ctlcluster.
    const log = readFileText(stateLog());
    expect(log).toMatch(/CMD \[08-finalize\] pg_ctlcluster 15 \S+ stop/);
    expect(log).toMatch(/CMD \[08-finalize\] pg_ctlcluster 15 \S+ start/);
    const pidAfter = await c.postmasterPid();
    expect(pidAfter).not.toBe(pidBefore);
    // The postmaster pg_ctlcluster started must not have inherited the lock.
    await expectLockFree();
    expect(await lsCluster(c.name)).toMatchObject({ status: 'online', port: c.port, dataDir: c.dataDir });
    expect(await c.psql('SHOW config_file')).toBe(c.configFile);
    expect(await c.psql('SHOW timezone')).toBe(TIMEZONE);

    // The old data directory is kept aside as <dataDir>.pre-pitr-<run id>.
    const prefix = `${basename(c.dataDir)}.pre-pitr-`;
    const aside = readdirSync(dirname(c.dataDir)).filter((n) => n.startsWith(prefix));
    expect(aside).toHaveLength(1);
    runId = aside[0]!.slice(prefix.length);
    expect(runId).toMatch(/^\d{8}T\d{6}Z$/);
    expect(existsSync(join(dirname(c.dataDir), aside[0]!, 'PG_VERSION'))).toBe(true);

    // A new timeline, accepting writes; the recovery settings are gone, archiving is back.
    const timeline = Number(await psqlAt({ ...server(), db: scenario.db, sql: 'SELECT timeline_id FROM pg_control_checkpoint()' }));
    expect(timeline).toBeGreaterThan(1);
    await psqlAt({ ...server(), db: scenario.db, sql: "INSERT INTO accounts (id, name) VALUES (999999, 'after recovery')" });
    expect(await psqlAt({ ...server(), db: scenario.db, sql: 'SELECT name FROM accounts WHERE id = 999999' })).toBe('after recovery');
    expect(await c.psql('SHOW recovery_target_time')).toBe('');
    expect(await c.psql('SHOW archive_mode')).toBe('on');
    expect(await c.psql('SELECT pg_is_in_recovery()')).toBe('f');
    // The side config directory only served the side instance.
    expect(existsSync(join(c.dataDir, 'recovery.signal'))).toBe(false);
  }, 900_000);

  it('rollback.sh --yes after finalize brings the original data back and keeps the recovered directory', async () => {
    const c = cluster!;
    expect(runId, 'run.sh must have renamed production aside').toBeDefined();
    const result = await runScript('rollback.sh', ['--yes']);
    expect(result.code, `${result.stderr.slice(-6000)}\n--- run.log ---\n${readFileText(stateLog()).slice(-4000)}`).toBe(0);
    expect(result.stderr).toContain('rollback complete');

    // The original, post-incident data is served again, on its old timeline.
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.final);
    expect(Number(await c.psql('SELECT timeline_id FROM pg_control_checkpoint()'))).toBe(1);
    expect(await lsCluster(c.name)).toMatchObject({ status: 'online', port: c.port, dataDir: c.dataDir });
    expect(await readPostmasterPid(c.dataDir)).toBeDefined();

    // The recovered directory is kept beside it; the aside name is free again.
    const recovered = `${c.dataDir}.recovered-${runId!}`;
    expect(existsSync(join(recovered, 'PG_VERSION'))).toBe(true);
    expect(existsSync(`${c.dataDir}.pre-pitr-${runId!}`)).toBe(false);
    // Nothing runs from it.
    expect(existsSync(join(recovered, 'postmaster.pid'))).toBe(false);
  }, 600_000);
});

/** `pid cmdline` of every process with `path` open (read from /proc), for failure messages. */
function processesWithOpen(path: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const fds = readdirSync(`/proc/${pid}/fd`);
      if (fds.some((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`) === path)) {
        found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`);
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/** A text file's contents, or a note that it does not exist (for failure messages). */
function readFileText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : `(no ${path})`;
}
