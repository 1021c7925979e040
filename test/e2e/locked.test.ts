// End to end: a plan pinned by `pitr resolve`, compiled and run on a real PostgreSQL 15.
//
// For each archive (S3 through s3rver and the aws CLI; a local directory):
// 1. `pitr resolve` writes the lock; `pitr compile` pins the bundle to it.
// 2. One pinned WAL object is replaced after resolving (same name and size, other
//    bytes): run.sh --yes stops in preflight naming the object, expected and found —
//    no service was stopped or scaled, production's postmaster and rows are as before.
// 3. The pinned object is put back: run.sh --yes resumes and recovers exactly the
//    target state, from the pinned backup, staging exactly the pinned WAL list.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LockFile } from '../../src/archive/lock.js';
import { runResolve } from '../../src/commands/resolve.js';
import {
  NOT_AFTER_TARGET,
  buildIncidentScenario,
  captureAppState,
  cleanupHarnessRoot,
  compileBundle,
  composeRuntime,
  createHarnessRoot,
  freePort,
  installComposeStandIns,
  s3Client,
  s3Source,
  productionFingerprint,
  quiesce,
  startPrimary,
  startS3rver,
  testPlan,
  uploadArchive,
  writeTestPlan,
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
  /** What a wrong object looks like to preflight. */
  expectMismatch: RegExp;
}

const CASES: Case[] = [
  { title: 'S3 archive, pg_basebackup layout, gzip WAL', source: 's3', layout: 'pg_basebackup', compression: 'gzip', expectMismatch: /: ETag [0-9a-f]{32} in the lock, [0-9a-f]{32} found/ },
  { title: 'local archive, tarball layout', source: 'local', layout: 'tarball', compression: 'none', expectMismatch: /: sha256 [0-9a-f]{64} in the lock, [0-9a-f]{64} found/ },
];

const BUCKET = 'pitr-e2e-locked';

function planFor(c: Case, ctx: PlanSite & { endpoint?: string }): PlanDocument {
  return testPlan({
    ...ctx,
    name: 'locked',
    description: `end-to-end with a lock file: ${c.title}`,
    layout: c.layout,
    walCompression: c.compression,
    overrides: {
      postgres: { osUser: undefined },
      source: c.source === 's3' ? s3Source(BUCKET, ctx.endpoint) : {},
      recovery: { parallelism: 4 },
      runtime: composeRuntime(ctx.root, ['api', 'celery']),
      verify: { notAfterTarget: NOT_AFTER_TARGET },
    },
  });
}

describe.each(CASES)('a locked plan end to end: $title', (c) => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let standIns: StandIns;
  let bundle: TestBundle;
  let lock: LockFile;
  let endpoint: string | undefined;

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'Asia/Tokyo', walCompression: c.compression });
    scenario = await buildIncidentScenario(primary, { layout: c.layout, segmentsBeforeTarget: 2 });
    // Reading the tables must not rewrite their pages, or the checksums prove nothing.
    await quiesce({ socketDir: primary.socketDir, port: primary.port }, scenario.db);
    if (c.source === 's3') {
      endpoint = (await startS3rver({ root })).endpoint;
      await uploadArchive(endpoint, BUCKET, primary.archiveDir);
    }
    standIns = installComposeStandIns(root, ['api', 'celery']);

    const plan = planFor(c, { root, primary, scenario, sidePort: await freePort(), endpoint });
    const planFile = writeTestPlan(root, plan);
    const said: string[] = [];
    const io = { stdout: (t: string) => said.push(t), stderr: (t: string) => said.push(t) };
    const client = endpoint ? s3Client(endpoint) : undefined;
    try {
      expect(await runResolve(planFile, io, { s3Client: client }), said.join('')).toBe(0);
    } finally {
      client?.destroy();
    }
    lock = JSON.parse(readFileSync(join(root, 'plans', 'locked.lock.json'), 'utf8')) as LockFile;
    bundle = compileBundle(root, plan, { pathFirst: [standIns.binDir], s3: c.source === 's3' });
  }, 900_000);

  afterAll(async () => {
    await cleanupHarnessRoot(root);
  }, 120_000);

  const runScript = (script: string, args: string[] = []) => bundle.run(script, args);

  /** The pinned WAL object whose bytes the test replaces: the last one, holding the target. */
  const victim = () => lock.objects.wal.at(-1)!;

  /** Reads or writes an archive object's bytes, wherever the plan's archive is. */
  async function putObject(key: string, body: Buffer): Promise<void> {
    if (c.source === 'local') {
      writeFileSync(join(primary.archiveDir, key), body);
      return;
    }
    const client = s3Client(endpoint!);
    try {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    } finally {
      client.destroy();
    }
  }

  it('the lock pins the backup automatic selection would choose, and the bundle carries it', () => {
    expect(lock.backup.id).toBe(scenario.expectedBackupId);
    expect(lock.objects.wal.length).toBeGreaterThanOrEqual(3);
    const pinned = readFileSync(join(bundle.dir, 'lib/pinned.tsv'), 'utf8');
    expect(pinned.split('\n').filter((l) => l.startsWith('wal\t')).map((l) => l.split('\t')[1])).toEqual(lock.objects.wal.map((o) => o.name));
    expect(readFileSync(join(bundle.dir, 'SHA256SUMS'), 'utf8')).toContain('  lib/pinned.tsv\n');
    expect(readFileSync(join(bundle.dir, 'RUNBOOK.md'), 'utf8')).toContain(`| WAL used | \`${lock.walRange.first}\` to \`${lock.walRange.last}\``);
  });

  it('an object replaced after resolving stops run.sh in preflight, before anything changes', async () => {
    const original = readFileSync(join(primary.archiveDir, victim().key));
    // Same name, same size, other bytes: another segment's content, or (gzip, whose
    // sizes differ) the same bytes with one changed in the middle.
    const replacement = c.compression === 'none'
      ? readFileSync(join(primary.archiveDir, lock.objects.wal[0]!.key))
      : Buffer.from(original.map((byte, i) => (i === original.length >> 1 ? byte ^ 0xff : byte)));
    expect(replacement.length).toBe(original.length);
    expect(replacement.equals(original)).toBe(false);
    await putObject(victim().key, replacement);

    const pidBefore = await primary.postmasterPid();
    const fingerprint = () =>
      productionFingerprint({ server: { socketDir: primary.socketDir, port: primary.port }, dataDir: primary.dataDir, db: scenario.db });
    const before = await fingerprint();
    const result = await runScript('run.sh', ['--yes']);
    expect(result.code).not.toBe(0);
    const where = c.source === 's3' ? `s3://${BUCKET}/${victim().key}` : join(primary.archiveDir, victim().key);
    expect(result.stderr).toContain(`[00-preflight] pinned object ${where}`);
    expect(result.stderr).toMatch(c.expectMismatch);
    expect(result.stderr).toContain('1 of the');
    expect(result.stderr).toContain('the archive changed after pitr resolve: put the pinned object back, or run pitr resolve again and recompile the plan');
    expect(existsSync(join(bundle.dir, 'state', 'done', '00-preflight'))).toBe(false);
    // Nothing changed: no runtime call that stops anything, production as it was.
    const changing = standIns.readCalls().filter((call) => call.some((w) => ['stop', 'start', 'scale'].includes(w)));
    expect(changing).toEqual([]);
    expect(standIns.composeRunning().sort()).toEqual(['api', 'celery']);
    expect(await primary.postmasterPid()).toBe(pidBefore);
    expect(await captureAppState(primary, scenario.db)).toEqual(scenario.final);
    // Byte for byte: relation files, postgresql.conf, postgresql.auto.conf, pg_hba.conf.
    expect(await fingerprint()).toEqual(before);
    expect(existsSync(join(root, 'work', 'data'))).toBe(false);

    await putObject(victim().key, original);
  }, 600_000);

  it('with the pinned object back, run.sh --yes recovers the target from exactly the pinned backup and WAL', async () => {
    const result = await runScript('run.sh', ['--yes']);
    expect(result.code, result.stderr.slice(-4000)).toBe(0);
    const server = { socketDir: primary.socketDir, port: primary.port };
    expect(await captureAppState(server, scenario.db)).toEqual(scenario.expected);

    expect(result.stderr).toMatch(new RegExp(`lock: the ${lock.objects.base.length + lock.objects.history.length + 1 + lock.objects.wal.length} pinned objects are in the archive as pitr resolve saw them`));
    expect(result.stderr).toContain(`base backup: ${lock.backup.id} `);
    const values = join(bundle.dir, 'state', 'values');
    expect(readFileSync(join(values, 'backup'), 'utf8').split('\t')[0]).toBe(lock.backup.id);
    // The WAL staged and offered to recovery is the lock's list, nothing else.
    const pinnedNames = [...lock.objects.wal.map((o) => o.name), ...lock.objects.history.map((o) => o.name)];
    expect(readFileSync(join(values, 'wal-needed.txt'), 'utf8').trim().split('\n')).toEqual(pinnedNames);
    // A locked plan always stages (every object is checked before use): the staging
    // directory and the stager's log exist, and the staged files are the pinned list.
    const staging = join(root, 'work', 'wal-staging');
    expect(existsSync(staging), staging).toBe(true);
    expect(existsSync(join(staging, '.stager.log'))).toBe(true);
    const staged = readdirSync(staging).filter((n) => !n.startsWith('.')).sort();
    expect(staged).toEqual([...pinnedNames].sort());
    // Every WAL file the side instance restored from the archive is a pinned one.
    const sideLog = join(root, 'work', 'side-instance.log');
    expect(existsSync(sideLog), sideLog).toBe(true);
    const restored = [...readFileSync(sideLog, 'utf8').matchAll(/restored log file "([^"]+)" from archive/g)].map((m) => m[1]);
    expect(restored.length).toBeGreaterThan(0);
    expect(restored.filter((n) => !pinnedNames.includes(n!))).toEqual([]);
    // wal-objects.tsv: stored name, size and ETag (S3) of every object under the WAL prefix.
    const objects = readFileSync(join(values, 'wal-objects.tsv'), 'utf8').replace(/\n$/, '').split('\n').map((l) => l.split('\t'));
    const suffix = c.compression === 'gzip' ? '.gz' : '';
    const row = objects.find(([name]) => name === `${victim().name}${suffix}`);
    expect(row).toEqual([`${victim().name}${suffix}`, String(victim().size), victim().etag ?? '']);
  }, 900_000);
});
