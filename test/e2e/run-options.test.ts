// run.sh phase by phase on real PostgreSQL 15, as an operator drives it at 3am:
//
// - --from before the earlier phases are done is refused, naming the missing phase;
// - --only 00-preflight reads the gzip tarball with pigz (scripts/test.sh installs it);
// - drain: a client still connected to the database after the services stop: phase 02
//   says it waits, waits drainTimeoutSeconds, lists the client and stops with the next
//   command; the services stay stopped, production untouched; resumed with --only once
//   the client is gone;
// - --only 03 runs that phase alone;
// - the rest of the recovery on a PATH without pigz (gzip reads the tarball), through
//   --only 04-fetch and --from 05-configure, reaches exactly the target;
// - rollback.sh puts every production relation file back.

import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildIncidentScenario,
  captureAppState,
  cleanEnv,
  cleanupHarnessRoot,
  createHarnessRoot,
  freePort,
  installStandIns,
  killProcessGroup,
  PG_BIN,
  productionFingerprint,
  psqlAt,
  quiesce,
  relationManifest,
  run,
  startDetached,
  startPrimary,
  waitFor,
  type DetachedRun,
  type Primary,
  type ProductionFingerprint,
  type RelationManifest,
  type RunResult,
  type Scenario,
  type StandIns,
} from './harness.js';
import { compileTestPlan, testPlan } from './lib/plans.js';

const PLAN = 'e2e-run-options';
const DRAIN_SECONDS = 3;

/** A directory of links to every program in /usr/bin and /usr/sbin except pigz. */
function pathWithoutPigz(root: string): string {
  const dir = join(root, 'bin-without-pigz');
  mkdirSync(dir);
  for (const from of ['/usr/sbin', '/usr/bin']) {
    for (const name of readdirSync(from)) {
      if (name === 'pigz' || name === 'unpigz' || existsSync(join(dir, name))) continue;
      symlinkSync(join(from, name), join(dir, name));
    }
  }
  return dir;
}

describe('run.sh phase by phase: --from, --only, the drain, with and without pigz', () => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let standIns: StandIns;
  let bundle: string;
  let withPigz: NodeJS.ProcessEnv;
  let withoutPigz: NodeJS.ProcessEnv;
  let noPigzDir: string;
  let before: ProductionFingerprint;
  let relationsBefore: RelationManifest;
  let client: DetachedRun | undefined;
  const server = () => ({ socketDir: primary.socketDir, port: primary.port });
  const fingerprint = () => productionFingerprint({ server: server(), dataDir: primary.dataDir, db: scenario.db });
  const composeCalls = () => standIns.readCalls().filter((c) => c[0] === 'docker');

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'UTC' });
    scenario = await buildIncidentScenario(primary, { layout: 'tarball' });
    await quiesce(server(), scenario.db);
    standIns = installStandIns(root);
    writeFileSync(join(root, 'compose.yml'), 'services: {}\n');
    standIns.setComposeRunning(['api']);
    noPigzDir = pathWithoutPigz(root);

    bundle = compileTestPlan(root, testPlan({
      name: PLAN,
      description: 'run.sh options end to end',
      root, primary, scenario,
      layout: 'tarball',
      sidePort: await freePort(),
      overrides: { recovery: { drainTimeoutSeconds: DRAIN_SECONDS } },
    }));
    withPigz = cleanEnv({ PATH: `${standIns.binDir}:${process.env.PATH ?? ''}` });
    withoutPigz = cleanEnv({ PATH: `${standIns.binDir}:${noPigzDir}` });
    before = await fingerprint();
    relationsBefore = await relationManifest(server(), primary.dataDir, scenario.db);
  }, 600_000);

  afterAll(async () => {
    if (client) await killProcessGroup(client);
    await cleanupHarnessRoot(root);
  }, 120_000);

  const runSh = (args: string[], env = withPigz): Promise<RunResult> =>
    run('bash', [join(bundle, 'run.sh'), '--yes', ...args], { env, allowFailure: true, timeoutMs: 600_000 });

  it('--from 03 before 00..02 ran is refused, naming the phase that has not completed; nothing is stopped', async () => {
    const result = await runSh(['--from', '03']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--from 03-safety-backup: the earlier phase 00-preflight has not completed');
    expect(result.stderr).toMatch(/next: run \.\/run\.sh without --from/);
    expect(composeCalls()).toEqual([]);
  }, 120_000);

  it('--only 00-preflight runs preflight alone and reads the gzip tarball with pigz', async () => {
    const pigz = (await run('bash', ['-c', 'command -v pigz'], { allowFailure: true })).stdout.trim();
    expect(pigz, 'pigz is installed (scripts/test.sh installs it)').not.toBe('');
    const result = await runSh(['--only', '00-preflight']);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`: gzip, read with ${pigz}$`, 'm'));
    expect(result.stderr).not.toContain('[01-assess]');
    expect(composeCalls()).toEqual([]);
  }, 300_000);

  it('drain: a client still connected after the services stop is waited for, listed, and stops the run; services stay stopped, production untouched', async () => {
    client = startDetached('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'psql'), '-X', '-q', '-h', primary.socketDir, '-p', String(primary.port), '-d', scenario.db,
      '-c', 'SELECT pg_sleep(900)'], { env: { ...withPigz, PGAPPNAME: 'report-job' } });
    await waitFor(async () => (await psqlAt({ ...server(), db: scenario.db, sql: "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'report-job'" })) === '1',
      { timeoutMs: 60_000, description: 'the connected client' });
    const result = await runSh(['--from', '01']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`waiting up to ${DRAIN_SECONDS}s until no client is connected to ${scenario.db} (1 now)`);
    expect(result.stderr).toContain(`clients still connected to ${scenario.db} after ${DRAIN_SECONDS}s (pid | database | user | application | client | since | state | query):`);
    expect(result.stderr).toMatch(new RegExp(`FAIL \\[02-stop-services\\]   \\d+ \\| ${scenario.db} \\| postgres \\| report-job \\| local socket \\| connected \\S+ \\| active \\| SELECT pg_sleep\\(900\\)`));
    expect(result.stderr).toContain('writers may still be connected: recovering now could lose what they write next');
    expect(result.stderr).toMatch(/next: stop those clients \(or SELECT pg_terminate_backend\(pid\) for each\), then resume with \.\/run\.sh; or restart the services as they were with \.\/rollback\.sh/);
    expect(result.stderr).toContain('phase 02-stop-services failed');
    // The services were stopped and stay stopped; nothing after 02 ran.
    expect(standIns.composeRunning()).toEqual([]);
    expect(result.stderr).not.toContain('[03-safety-backup]');
    expect(await fingerprint()).toEqual(before);

    // What the message says to do: a backend inside pg_sleep does not notice its client
    // going away, so the operator terminates it.
    await psqlAt({ ...server(), db: scenario.db, sql: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'report-job'" });
    await killProcessGroup(client);
    client = undefined;
    await waitFor(async () => (await psqlAt({ ...server(), db: scenario.db, sql: "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'report-job'" })) === '0',
      { timeoutMs: 60_000, description: 'the client gone' });
    const resumed = await runSh(['--only', '02-stop-services']);
    expect(resumed.code, resumed.stderr.slice(-3000)).toBe(0);
    expect(resumed.stderr).toContain('already recorded running services: api');
    expect(resumed.stderr).toContain(`no client connections left on ${scenario.db}`);
  }, 300_000);

  it('--only 03-safety-backup runs that phase alone', async () => {
    const result = await runSh(['--only', '03-safety-backup']);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stderr).toContain('[03-safety-backup]');
    expect(result.stderr).not.toContain('[04-fetch]');
    expect(readdirSync(join(root, 'safety')).some((name) => name.endsWith('.dump'))).toBe(true);
  }, 300_000);

  it('without pigz, --only 04-fetch reads the tarball with gzip, and --from 05 recovers exactly to the target', async () => {
    const fetch = await runSh(['--only', '04-fetch'], withoutPigz);
    expect(fetch.code, fetch.stderr.slice(-3000)).toBe(0);
    expect(fetch.stderr).toMatch(new RegExp(`\\(gzip, read with ${noPigzDir}/gzip\\)`));
    expect(fetch.stderr).not.toContain('[05-configure]');
    const rest = await runSh(['--from', '05'], withoutPigz);
    expect(rest.code, rest.stderr.slice(-3000)).toBe(0);
    expect(rest.stderr).not.toContain('[04-fetch]');
    expect(rest.stderr).toContain('paused at the target');
    expect(rest.stderr).toContain('recovery complete');
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);
    expect(standIns.composeRunning()).toEqual(['api']);
  }, 600_000);

  it('rollback.sh puts every production relation file back', async () => {
    const result = await run('bash', [join(bundle, 'rollback.sh'), '--yes'], { env: withPigz, allowFailure: true, timeoutMs: 600_000 });
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.final);
    expect(await relationManifest(server(), primary.dataDir, scenario.db)).toEqual(relationsBefore);
  }, 600_000);
});
