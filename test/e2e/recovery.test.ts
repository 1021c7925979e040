// End to end: compile a plan for a real PostgreSQL 15 primary and its WAL archive,
// then run the generated drill.sh and run.sh and check what they did to the server,
// the data and the application runtime (recording docker/kubectl stand-ins).
//
// Two archives: a local directory (tarball layout, docker compose) and S3 served by
// s3rver and read through the real aws CLI (pg_basebackup layout, gzip WAL, k8s).
// The server runs in Asia/Tokyo and the plan writes the target with -05:00.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FULL_VERIFY,
  buildIncidentScenario,
  captureAppState,
  cleanupHarnessRoot,
  compileBundle,
  composeRuntime,
  createHarnessRoot,
  freePort,
  installComposeStandIns,
  k8sRuntime,
  productionFingerprint,
  quiesce,
  s3Source,
  startPrimary,
  startS3rver,
  testPlan,
  uploadArchive,
  type PlanDocument,
  type PlanSite,
  type Primary,
  type Scenario,
  type StandIns,
  type TestBundle,
} from './harness.js';

interface Case {
  title: string;
  source: 'local' | 's3';
  layout: 'tarball' | 'pg_basebackup';
  compression: 'none' | 'gzip';
  runtime: 'docker' | 'k8s';
}

const CASES: Case[] = [
  { title: 'local archive, tarball layout, docker compose', source: 'local', layout: 'tarball', compression: 'none', runtime: 'docker' },
  { title: 'S3 archive through the aws CLI, pg_basebackup layout, gzip WAL, k8s', source: 's3', layout: 'pg_basebackup', compression: 'gzip', runtime: 'k8s' },
];

const BUCKET = 'pitr-e2e-backups';

/** A plan for this harness, in the plan format users write. */
function planFor(c: Case, ctx: PlanSite & { endpoint?: string }): PlanDocument {
  return testPlan({
    ...ctx,
    name: 'e2e',
    description: `end-to-end: ${c.title}`,
    layout: c.layout,
    walCompression: c.compression,
    overrides: {
      source: c.source === 's3' ? s3Source(BUCKET, ctx.endpoint) : {},
      recovery: { parallelism: 4 },
      runtime: c.runtime === 'docker' ? composeRuntime(ctx.root, ['api', 'celery', 'frontend']) : k8sRuntime(['api', 'celery-worker']),
      verify: FULL_VERIFY,
    },
  });
}

describe.each(CASES)('PITR end to end: $title', (c) => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let standIns: StandIns;
  let bundle: TestBundle;
  let composeFile: string;

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'Asia/Tokyo', walCompression: c.compression });
    scenario = await buildIncidentScenario(primary, { layout: c.layout });
    // Reading the tables must not rewrite their pages, or the checksums below prove nothing.
    await quiesce({ socketDir: primary.socketDir, port: primary.port }, scenario.db);
    let endpoint: string | undefined;
    if (c.source === 's3') {
      endpoint = (await startS3rver({ root })).endpoint;
      await uploadArchive(endpoint, BUCKET, primary.archiveDir);
    }
    // frontend is not running: it must be neither stopped nor started.
    standIns = installComposeStandIns(root, ['api', 'celery']);
    composeFile = join(root, 'compose.yml');
    standIns.setReplicas('api', 3);
    standIns.setReplicas('celery-worker', 2);

    bundle = compileBundle(root, planFor(c, { root, primary, scenario, sidePort: await freePort(), endpoint }), { pathFirst: [standIns.binDir], s3: c.source === 's3' });
  }, 900_000);

  afterAll(async () => {
    await cleanupHarnessRoot(root);
  }, 120_000);

  const runScript = (script: string, args: string[] = []) => bundle.run(script, args);

  /**
   * The table run.sh and drill.sh end with: these rows in this order, each with its
   * outcome and a duration (7s, 1m05s, 1h02m), then the total wall time; the same rows
   * are in the run log.
   */
  const expectSummary = (stderr: string, runLog: string, rows: [string, string][]) => {
    const duration = '\\d+s|\\d+m\\d\\ds|\\d+h\\d\\dm';
    const lines = stderr.split('\n');
    const start = lines.findIndex((l) => / INFO \[(run|drill)\] summary:$/.test(l));
    expect(start, stderr.slice(-3000)).toBeGreaterThan(-1);
    const table = lines.slice(start + 1, start + rows.length + 3);
    expect(table[0]).toMatch(/^ {2}phase +outcome +duration$/);
    rows.forEach(([phase, outcome], i) => expect(table[i + 1]).toMatch(new RegExp(`^  ${phase} +${outcome} +(${duration})$`)));
    expect(table.at(-1)).toMatch(new RegExp(`^  total wall time +(${duration})$`));
    for (const row of table) expect(runLog).toContain(`] ${row}\n`);
  };

  /** Checksums of production's relation files and configuration files (lib/production.ts). */
  const fingerprint = () =>
    productionFingerprint({ server: { socketDir: primary.socketDir, port: primary.port }, dataDir: primary.dataDir, db: scenario.db });

  it('drill.sh --yes rehearses the recovery and leaves production and services untouched', async () => {
    const pidBefore = await primary.postmasterPid();
    const before = await fingerprint();
    // Automation runs ./drill.sh --yes && ./run.sh --yes: every script takes --yes.
    const result = await runScript('drill.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`base backup: ${scenario.expectedBackupId} `);
    expect(result.stderr).toContain('paused at the target');
    expect(result.stderr).toContain('verification passed');
    const drillPhases = ['00-preflight', '01-assess', '04-fetch', '05-configure', '06-recover', '07-verify', 'teardown'];
    expectSummary(result.stderr, readFileSync(join(bundle.dir, 'state', 'drill', 'run.log'), 'utf8'), drillPhases.map((p) => [p, 'ran']));
    expect(await primary.postmasterPid()).toBe(pidBefore);
    expect(await captureAppState(primary, scenario.db)).toEqual(scenario.final);
    // Byte for byte: relation files, postgresql.conf, postgresql.auto.conf, pg_hba.conf.
    const after = await fingerprint();
    expect(Object.keys(after.dataDirConfig).sort()).toEqual(['pg_hba.conf', 'pg_ident.conf', 'postgresql.auto.conf', 'postgresql.conf']);
    expect(Object.keys(after.relations.files).length).toBeGreaterThan(4);
    expect(after).toEqual(before);
    const changing = standIns.readCalls().filter((call) => call.some((w) => ['stop', 'start', 'scale'].includes(w)));
    expect(changing).toEqual([]);
    // The drill cleaned up after itself.
    expect(existsSync(join(root, 'work', 'data'))).toBe(false);
  }, 600_000);

  it('run.sh --yes brings production back to exactly the target, old data kept aside', async () => {
    const result = await runScript('run.sh', ['--yes']);
    expect(result.code, result.stderr.slice(-4000)).toBe(0);
    const phases = ['00-preflight', '01-assess', '02-stop-services', '03-safety-backup', '04-fetch', '05-configure', '06-recover', '07-verify', '08-finalize'];
    expectSummary(result.stderr, readFileSync(join(bundle.dir, 'state', 'run.log'), 'utf8'), phases.map((p) => [p, 'ran']));
    // Run again: nothing left to do, every phase already done with the duration it took.
    const again = await runScript('run.sh', ['--yes']);
    expect(again.code, again.stderr.slice(-4000)).toBe(0);
    expectSummary(again.stderr, readFileSync(join(bundle.dir, 'state', 'run.log'), 'utf8'), phases.map((p) => [p, 'already done']));
    const server = { socketDir: primary.socketDir, port: primary.port };
    // Row identities (every account's id and name, every event's id), not counts: at the
    // target and after the incident the events count is the same.
    const recovered = await captureAppState(server, scenario.db);
    expect(recovered.eventIds).toEqual(scenario.expected.eventIds);
    expect(recovered.accounts).toEqual(scenario.expected.accounts);
    expect(recovered).toEqual(scenario.expected);

    const aside = readdirSync(join(root, 'primary')).filter((n) => n.startsWith('data.pre-pitr-'));
    expect(aside).toHaveLength(1);
    expect(existsSync(join(root, 'primary', aside[0]!, 'PG_VERSION'))).toBe(true);

    // A new timeline, accepting writes.
    const { psqlAt } = await import('./harness.js');
    const timeline = Number(await psqlAt({ ...server, db: scenario.db, sql: 'SELECT timeline_id FROM pg_control_checkpoint()' }));
    expect(timeline).toBeGreaterThan(1);
    await psqlAt({ ...server, db: scenario.db, sql: "INSERT INTO accounts (id, name) VALUES (999999, 'after recovery')" });
    expect(await psqlAt({ ...server, db: scenario.db, sql: 'SELECT name FROM accounts WHERE id = 999999' })).toBe('after recovery');
    // The recovery settings were removed after promotion.
    expect(await psqlAt({ ...server, sql: 'SHOW recovery_target_time' })).toBe('');
    expect(await psqlAt({ ...server, sql: 'SHOW archive_mode' })).toBe('on');
  }, 900_000);

  it('the application runtime was recorded, stopped and restored exactly', () => {
    const calls = standIns.readCalls();
    if (c.runtime === 'docker') {
      const compose = ['docker', 'compose', '-f', composeFile];
      expect(calls).toEqual([
        [...compose, 'ps', '--services', '--status', 'running'],
        [...compose, 'stop', 'api', 'celery'],
        [...compose, 'start', 'api', 'celery'],
      ]);
      expect(standIns.composeRunning().sort()).toEqual(['api', 'celery']);
    } else {
      const kube = ['kubectl', '--context', 'e2e', '--namespace', 'app'];
      expect(calls).toEqual([
        [...kube, 'get', 'deployment', 'api', '-o', 'jsonpath={.spec.replicas}'],
        [...kube, 'get', 'deployment', 'celery-worker', '-o', 'jsonpath={.spec.replicas}'],
        [...kube, 'get', 'hpa', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.spec.scaleTargetRef.name}{"\\t"}{.spec.minReplicas}{"\\n"}{end}'],
        [...kube, 'scale', 'deployment', 'api', '--replicas=0'],
        [...kube, 'scale', 'deployment', 'celery-worker', '--replicas=0'],
        [...kube, 'scale', 'deployment', 'api', '--replicas=3'],
        [...kube, 'scale', 'deployment', 'celery-worker', '--replicas=2'],
      ]);
      expect(standIns.replicas('api')).toBe(3);
      expect(standIns.replicas('celery-worker')).toBe(2);
    }
  });
});
