// End to end: the next recovery on the same archive works too.
//
//   b1 ─ good ─ T1 ─ incident ─ b2 ─ later ─ run.sh #1 (to T1: timeline 2)
//      ─ drill.sh of plan 2 is not possible yet ─ writes on timeline 2 ─ b3 ─ good ─ T2
//      ─ incident 2 ─ switch ─ drill.sh (plan 2) ─ run.sh #2 (to T2 on timeline 2: timeline 3)
//
// The side instance is promoted with archive_mode = off, so PostgreSQL never marks the
// new timeline's history file for archiving: finalize must see that it reaches the
// archive (00000002.history), or the second recovery (timeline latest) cannot follow
// timeline 2 and a later promotion could take number 2 again. Both recoveries must be
// exact, and finalize records the timeline it really promoted to.
//
// Local archive with gzip-compressed WAL (the test's archive_command compresses history
// and backup files too), tarball layout; a second case on S3 (s3rver + the aws CLI),
// where production's archive_command writes only the local directory: the history file
// can reach the bucket only through finalize's own copy.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NOT_AFTER_TARGET,
  buildIncidentScenario,
  bundleAt,
  captureAppState,
  cleanupHarnessRoot,
  compileBundle,
  createHarnessRoot,
  formatWithOffset,
  freePort,
  installStandIns,
  listKeys,
  psqlAt,
  run,
  s3Client,
  s3Source,
  sleep,
  startPrimary,
  startS3rver,
  takeBaseBackup,
  testPlan,
  uploadArchive,
  type AppState,
  type PlanDocument,
  type Primary,
  type Scenario,
  type ScriptEnvOptions,
  type TestBundle,
} from './harness.js';
import { GetObjectCommand } from '@aws-sdk/client-s3';

interface Case {
  title: string;
  source: 'local' | 's3';
}

const CASES: Case[] = [
  { title: 'local archive, gzip WAL', source: 'local' },
  { title: 'S3 archive through the aws CLI, gzip WAL', source: 's3' },
];

const BUCKET = 'pitr-e2e-next';

describe.each(CASES)('two recoveries in a row on one archive: $title', (c) => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let scripts: ScriptEnvOptions;
  let endpoint = '';
  let sidePort: number;
  const server = () => ({ socketDir: primary.socketDir, port: primary.port });

  const planFor = (name: string, targetTime: string): PlanDocument => testPlan({
    name,
    description: `end-to-end: next recovery, ${c.title}`,
    root, primary, scenario,
    layout: 'tarball',
    walCompression: 'gzip',
    sidePort,
    overrides: {
      target: { time: targetTime, timeline: 'latest' },
      source: c.source === 's3' ? s3Source(BUCKET, endpoint) : {},
      recovery: { parallelism: 4 },
      runtime: { kind: 'none' },
      verify: { notAfterTarget: NOT_AFTER_TARGET },
    },
  });

  /** Compile the plan to TARGET_TIME as NAME; returns a runner for its scripts. */
  const compile = (name: string, targetTime: string): TestBundle => compileBundle(root, planFor(name, targetTime), scripts);

  /** The archived history file's text, wherever this case's archive is. */
  const archivedHistory = async (tli: number): Promise<string | undefined> => {
    const name = `${tli.toString(16).toUpperCase().padStart(8, '0')}.history`;
    if (c.source === 'local') {
      for (const stored of [name, `${name}.gz`]) {
        const path = join(primary.archiveDir, 'wal', stored);
        if (existsSync(path)) return stored.endsWith('.gz') ? gunzipSync(readFileSync(path)).toString('utf8') : readFileSync(path, 'utf8');
      }
      return undefined;
    }
    const keys = await listKeys(endpoint, BUCKET, 'wal/');
    const key = [`wal/${name}`, `wal/${name}.gz`].find((k) => keys.includes(k));
    if (!key) return undefined;
    const client = s3Client(endpoint);
    try {
      const body = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
      return key.endsWith('.gz') ? gunzipSync(body).toString('utf8') : body.toString('utf8');
    } finally {
      client.destroy();
    }
  };

  /** Copy what production archived locally since into the bucket, without overwriting anything there. */
  const syncBucket = async () => {
    if (c.source !== 's3') return;
    const present = new Set(await listKeys(endpoint, BUCKET));
    const staging = join(root, 'sync');
    await run('rm', ['-rf', staging]);
    mkdirSync(staging, { recursive: true });
    await run('cp', ['-a', primary.archiveDir + '/.', staging]);
    await run('bash', ['-c', 'cd "$1" && for k in "${@:2}"; do rm -f -- "$k"; done', 'sync', staging, ...present]);
    await uploadArchive(endpoint, BUCKET, staging);
  };

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'Asia/Tokyo', walCompression: 'gzip' });
    scenario = await buildIncidentScenario(primary, { layout: 'tarball' });
    if (c.source === 's3') {
      endpoint = (await startS3rver({ root })).endpoint;
      await uploadArchive(endpoint, BUCKET, primary.archiveDir);
    }
    const standIns = installStandIns(root);
    sidePort = await freePort();
    scripts = { pathFirst: [standIns.binDir], s3: c.source === 's3' };
  }, 300_000);

  afterAll(async () => {
    await cleanupHarnessRoot(root);
  }, 120_000);

  let second: { target: string; expected: AppState; final: AppState };

  it('run.sh #1 recovers exactly to the first target; the new timeline (2) is recorded and its history file is in the archive', async () => {
    const bundle = compile('first', scenario.target.written);
    const result = await bundle.run('run.sh', ['--yes']);
    expect(result.code, result.stderr.slice(-4000)).toBe(0);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);
    const timeline = Number(await psqlAt({ ...server(), sql: 'SELECT timeline_id FROM pg_control_checkpoint()' }));
    expect(timeline).toBe(2);
    // Read when it is real: after the end-of-recovery checkpoint, not right after pg_promote.
    expect(readFileSync(join(bundle.dir, 'state', 'values', 'new-timeline'), 'utf8').trim()).toBe('2');
    const history = await archivedHistory(2);
    expect(history, `00000002.history in the archive\n${result.stderr.slice(-3000)}`).toBeDefined();
    expect(history).toMatch(/^1\t[0-9A-F]+\/[0-9A-F]+\t/);
    if (c.source === 's3') expect(result.stderr).toContain('storing 00000002.history in the archive');
  }, 900_000);

  it('new writes on timeline 2, a new base backup, a second target on timeline 2', async () => {
    const sql = (text: string) => psqlAt({ ...server(), db: scenario.db, sql: text });
    await sql("INSERT INTO accounts (id, name) VALUES (2001, 'timeline-2-a')");
    await sql('INSERT INTO events (account_id) VALUES (2001)');
    await primary.switchWal();
    await takeBaseBackup(primary, { id: 'b3', layout: 'tarball' });
    await sql("INSERT INTO accounts (id, name) VALUES (2002, 'timeline-2-b')");
    await sql("UPDATE accounts SET name = 'renamed-on-2' WHERE id = 1");
    await primary.switchWal();
    await sleep(1200);
    const expected = await captureAppState(server(), scenario.db);
    const epochMs = Number(await psqlAt({ ...server(), sql: 'SELECT floor(extract(epoch FROM now()) * 1000)::bigint' }));
    await sleep(1200);
    await sql('DELETE FROM events WHERE account_id = 2001');
    await sql("UPDATE accounts SET name = 'CORRUPTED-2'");
    await primary.switchWal();
    const final = await captureAppState(server(), scenario.db);
    await syncBucket();
    second = { target: formatWithOffset(epochMs, '-05:00'), expected, final };
    expect(second.expected.accountIds).toContain(2002);
  }, 300_000);

  it('drill.sh of the second plan after the first run: reaches the second target on timeline 2, production untouched', async () => {
    const bundle = compile('second', second.target);
    const pid = readFileSync(join(primary.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
    const result = await bundle.run('drill.sh', ['--yes']);
    expect(result.code, result.stderr.slice(-4000)).toBe(0);
    expect(result.stderr).toContain('base backup: b3 ');
    expect(readFileSync(join(primary.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]).toBe(pid);
    expect(await captureAppState(server(), scenario.db)).toEqual(second.final);
  }, 900_000);

  it('run.sh #2 recovers exactly to the second target; timeline 3 is recorded and archived', async () => {
    const bundle = bundleAt(join(root, 'out', 'second'), scripts);
    const result = await bundle.run('run.sh', ['--yes']);
    expect(result.code, result.stderr.slice(-4000)).toBe(0);
    expect(await captureAppState(server(), scenario.db)).toEqual(second.expected);
    expect(readFileSync(join(bundle.dir, 'state', 'values', 'new-timeline'), 'utf8').trim()).toBe('3');
    expect(Number(await psqlAt({ ...server(), sql: 'SELECT timeline_id FROM pg_control_checkpoint()' }))).toBe(3);
    const history = await archivedHistory(3);
    expect(history, result.stderr.slice(-3000)).toBeDefined();
    // Timeline 3 branched from 2, which branched from 1.
    expect(history!.split('\n').filter((l) => /^\d/.test(l)).map((l) => l.split('\t')[0])).toEqual(['1', '2']);
  }, 900_000);
});
