// `pitr resolve` and `pitr inspect` against real PostgreSQL 15 servers.
//
// The archive (gzip-compressed, tarball layout, server in Asia/Tokyo) holds two base
// backups AND a timeline switch left by a previous PITR:
//
//   TL1: b1 ─ commits ─ T1 ─ BRANCH ─ commits (lost to the PITR) ─ switch; primary stopped
//                                  └─ TL2 (b1 recovered to BRANCH, promoted, archiving into the same archive):
//                                     batch A ─ switch ─ batch B ─ switch ─ T2 ─ b2 ─ commits ─ switch ─ T3 ─ commits ─ switch
//
// resolve must choose the right backup for each target, follow 00000002.history, and
// list exactly the WAL an independent walk over the archive directory finds — from a
// local directory and from s3rver alike — and fail with the right reason for a target
// before every backup, a WAL gap before the target, and a target beyond the archive.
//
// A second archive has 20,000 dummy WAL objects before ~50 real ones: a request-counting
// middleware on the S3 client proves the needed range is listed in fewer than 5 requests.
//
// inspect runs against the TL2 server: a matching plan passes; a wrong dataDir, a wrong
// version and a missing table each fail on their own line.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, cpSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runInspect } from '../../src/commands/inspect.js';
import { runResolve } from '../../src/commands/resolve.js';
import type { LockFile } from '../../src/archive/lock.js';
import {
  PG_BIN,
  appendPostgresConf,
  chownToPostgres,
  cleanupHarnessRoot,
  createHarnessRoot,
  extractTarGzAsPostgres,
  formatWithOffset,
  freePort,
  listKeys,
  psqlAt,
  runAsPostgres,
  s3Client,
  s3Env,
  shellQuote,
  sleep,
  startPrimary,
  startS3rver,
  startServer,
  stopServer,
  takeBaseBackup,
  uploadArchive,
  waitFor,
  waitForArchived,
  readPostmasterPid,
  type BackupHistory,
  type Primary,
} from './harness.js';

const SEGMENT = 16 * 1024 * 1024;
const BUCKET = 'pitr-resolve';
const GAP_BUCKET = 'pitr-resolve-gap';
const LARGE_BUCKET = 'pitr-resolve-large';

// ---------------------------------------------------------------------------
// Helpers

interface Captured {
  stdout: string;
  stderr: string;
}

function capture(): { io: { stdout(t: string): void; stderr(t: string): void }; out: Captured } {
  const out: Captured = { stdout: '', stderr: '' };
  return { io: { stdout: (t) => (out.stdout += t), stderr: (t) => (out.stderr += t) }, out };
}

/** The server's now() as an instant and written with an offset that is not the server's. */
async function recordTime(server: { socketDir: string; port: number }): Promise<{ written: string; epochMs: number }> {
  const epochMs = Number(await psqlAt({ ...server, sql: 'SELECT floor(extract(epoch FROM now()) * 1000)::bigint' }));
  return { written: formatWithOffset(epochMs, '-05:00'), epochMs };
}

/** Commits, each its own transaction; returns the server time just after the last one. */
async function commit(server: Primary, label: string, count = 3): Promise<number> {
  for (let i = 0; i < count; i++) await server.psql(`INSERT INTO events (note) VALUES ('${label}-${i}')`, 'app');
  return Number(await server.psql('SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint'));
}

function isoUtc(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

interface PlanOptions {
  name: string;
  target: Record<string, unknown>;
  source: Record<string, unknown>;
  compression: 'none' | 'gzip';
  backup?: string;
  postgres?: Record<string, unknown>;
  verify?: Record<string, unknown>;
}

function writePlan(dir: string, o: PlanOptions): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${o.name}.yaml`);
  writeFileSync(
    file,
    stringify({
      version: 1,
      name: o.name,
      target: o.target,
      postgres: {
        version: 15,
        database: 'app',
        dataDir: '/var/lib/postgresql/15/main',
        port: 5432,
        host: '/var/run/postgresql',
        binDir: PG_BIN,
        service: { kind: 'pg_ctl' },
        ...o.postgres,
      },
      source: {
        ...o.source,
        base: { prefix: 'base/', layout: 'tarball' },
        wal: { prefix: 'wal/', compression: o.compression },
        ...(o.backup ? { backup: o.backup } : {}),
      },
      recovery: { workDir: '/var/lib/postgresql/15/pitr-work', port: 5499 },
      ...(o.verify ? { verify: o.verify } : {}),
    }),
  );
  return file;
}

async function resolve(planFile: string, options: Parameters<typeof runResolve>[2] = {}) {
  const { io, out } = capture();
  const code = await runResolve(planFile, io, options);
  const lockFile = planFile.replace(/\.yaml$/, '.lock.json');
  const lockText = code === 0 ? readFileSync(lockFile, 'utf8') : null;
  return { code, ...out, lockText, lock: lockText ? (JSON.parse(lockText) as LockFile) : null };
}

// --- An independent reading of the archive directory, to check resolve against.

function walNamesIn(walDir: string, compression: 'none' | 'gzip'): Set<string> {
  const suffix = compression === 'gzip' ? '.gz' : '';
  return new Set(readdirSync(walDir).filter((n) => n.endsWith(suffix)).map((n) => n.slice(0, n.length - suffix.length)));
}

function readWal(walDir: string, name: string, compression: 'none' | 'gzip'): Buffer {
  return compression === 'gzip' ? gunzipSync(readFileSync(join(walDir, `${name}.gz`))) : readFileSync(join(walDir, name));
}

function lsnToNumber(lsn: string): number {
  const [hi, lo] = lsn.split('/') as [string, string];
  return Number.parseInt(hi, 16) * 2 ** 32 + Number.parseInt(lo, 16);
}

function segnoOf(name: string): number {
  return Number.parseInt(name.slice(8, 16), 16) * 256 + Number.parseInt(name.slice(16), 16);
}

function segName(tli: number, segno: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(tli)}${hex(Math.floor(segno / 256))}${hex(segno % 256)}`;
}

/**
 * The segments a recovery from `startWalFile` along `timeline` reads, walking the
 * archive's names until the first missing one; plus the history files it needs.
 */
function expectedWalFromDirectory(walDir: string, compression: 'none' | 'gzip', startWalFile: string, timeline: number): { wal: string[]; history: string[] } {
  const names = walNamesIn(walDir, compression);
  // Timeline switches: "<parent>\t<lsn>\t<reason>" lines of the target timeline's history.
  const switches: { from: number; segno: number }[] = [];
  const history: string[] = [];
  if (timeline > 1) {
    const historyName = `${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
    history.push(historyName);
    const lines = readWal(walDir, historyName, compression).toString('utf8').split('\n').filter((l) => /^\d/.test(l));
    let previousBegin = 0;
    for (const line of lines) {
      const [parent, lsn] = line.split('\t') as [string, string];
      switches.push({ from: Number(parent), segno: previousBegin });
      previousBegin = Math.floor(lsnToNumber(lsn) / SEGMENT);
    }
    switches.push({ from: timeline, segno: previousBegin });
  } else {
    switches.push({ from: 1, segno: 0 });
  }
  const timelineOf = (segno: number) => switches.filter((s) => s.segno <= segno).at(-1)!.from;
  let segno = segnoOf(startWalFile);
  const wal: string[] = [];
  while (names.has(segName(timelineOf(segno), segno))) {
    wal.push(segName(timelineOf(segno), segno));
    segno += 1;
  }
  return { wal, history };
}

const sha256 = (buffer: Buffer) => createHash('sha256').update(buffer).digest('hex');
const md5 = (buffer: Buffer) => createHash('md5').update(buffer).digest('hex');

// ---------------------------------------------------------------------------
// The archive with two backups and a timeline switch.

interface TimelineArchive {
  root: string;
  archiveDir: string;
  tl2: Primary;
  b1: BackupHistory;
  b2: BackupHistory;
  /** Before b1 ended. */
  t0: { written: string; epochMs: number };
  /** On the common history, after b1. */
  t1: { written: string; epochMs: number };
  /** On timeline 2 before b2. */
  t2: { written: string; epochMs: number };
  /** After b2. */
  t3: { written: string; epochMs: number };
  /** Server time right after the last commit of batch A (before the segment the gap test deletes). */
  batchAEndMs: number;
  /** The segment holding batch B (deleted in the gap archive). */
  batchBSegment: string;
  /** Server time right after the last commit in the archive. */
  lastCommitMs: number;
  endpoint: string;
}

/** Recover b1 of `primary` to `target` in a new data directory, promote, return it as a primary of timeline 2. */
async function branchByPitr(primary: Primary, root: string, target: string): Promise<Primary> {
  const dir = join(root, 'branch');
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'run');
  const logFile = join(dir, 'server.log');
  await mkdir(socketDir, { recursive: true });
  await chownToPostgres(dir);
  await extractTarGzAsPostgres(join(primary.archiveDir, 'base', 'b1.tar.gz'), dataDir);
  const walDir = join(primary.archiveDir, 'wal');
  const port = await freePort();
  await appendPostgresConf(join(dataDir, 'postgresql.auto.conf'), {
    port,
    unix_socket_directories: socketDir,
    restore_command: `gzip -dc ${shellQuote(`${walDir}/`)}%f.gz > %p`,
    recovery_target_time: target,
    recovery_target_inclusive: false,
    recovery_target_action: 'promote',
  });
  await writeFile(join(dataDir, 'recovery.signal'), '');
  await chownToPostgres(dataDir);
  await startServer({ dataDir, port, socketDir, logFile });
  await waitFor(async () => (await psqlAt({ socketDir, port, sql: 'SELECT pg_is_in_recovery()' })) === 'f', {
    description: 'the PITR copy to be promoted',
  });
  const server: Primary = {
    dataDir,
    port,
    socketDir,
    logFile,
    major: primary.major,
    root,
    archiveDir: primary.archiveDir,
    walCompression: primary.walCompression,
    timezone: primary.timezone,
    psql: (sql, db) => psqlAt({ socketDir, port, sql, db }),
    switchWal: async () => {
      const segment = await server.psql('SELECT pg_walfile_name(pg_switch_wal())');
      await waitForArchived(server, segment);
      return segment;
    },
    stop: () => stopServer(dataDir),
    postmasterPid: async () => (await readPostmasterPid(dataDir))!,
  };
  await waitForArchived(server, '00000002.history');
  return server;
}

async function buildTimelineArchive(): Promise<TimelineArchive> {
  const root = await createHarnessRoot();
  const primary = await startPrimary({ root, timezone: 'Asia/Tokyo', walCompression: 'gzip' });
  await primary.psql('CREATE DATABASE app');
  await primary.psql('CREATE TABLE events (id serial PRIMARY KEY, note text, created_at timestamptz DEFAULT now()); CREATE TABLE accounts (id int PRIMARY KEY)', 'app');
  await commit(primary, 'initial');
  const t0 = await recordTime(primary);
  await sleep(1100);
  const b1 = await takeBaseBackup(primary, { id: 'b1', layout: 'tarball' });
  await commit(primary, 'after-b1');
  await primary.switchWal();
  await sleep(1200);
  const t1 = await recordTime(primary);
  await sleep(1200);
  await commit(primary, 'before-branch');
  await sleep(1200);
  const branch = await recordTime(primary);
  await sleep(1200);
  await commit(primary, 'lost-on-tl1', 5);
  await primary.switchWal();
  await primary.stop();

  const tl2 = await branchByPitr(primary, root, branch.written);
  const batchAEndMs = await commit(tl2, 'tl2-batch-a');
  await tl2.switchWal();
  await commit(tl2, 'tl2-batch-b');
  const batchBSegment = await tl2.switchWal();
  await sleep(1200);
  const t2 = await recordTime(tl2);
  await sleep(1200);
  const b2 = await takeBaseBackup(tl2, { id: 'b2', layout: 'tarball' });
  await commit(tl2, 'after-b2');
  await tl2.switchWal();
  await sleep(1200);
  const t3 = await recordTime(tl2);
  await sleep(1200);
  const lastCommitMs = await commit(tl2, 'last');
  await tl2.switchWal();

  const endpoint = (await startS3rver({ root })).endpoint;
  await uploadArchive(endpoint, BUCKET, primary.archiveDir);
  return { root, archiveDir: primary.archiveDir, tl2, b1, b2, t0, t1, t2, t3, batchAEndMs, batchBSegment, lastCommitMs, endpoint };
}

// ---------------------------------------------------------------------------

describe('pitr resolve and inspect on an archive with two backups and a timeline switch', () => {
  let a: TimelineArchive;
  let plans: string;
  const savedEnv: Record<string, string | undefined> = {};

  beforeAll(async () => {
    a = await buildTimelineArchive();
    plans = join(a.root, 'plans');
    // The S3 reader takes credentials from the standard provider chain: the environment here.
    for (const [key, value] of Object.entries(s3Env())) {
      savedEnv[key] = process.env[key];
      process.env[key] = value;
    }
  }, 300_000);

  afterAll(async () => {
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await cleanupHarnessRoot(a?.root);
  }, 120_000);

  const SOURCES = [
    { title: 'local directory', kind: 'local' },
    { title: 's3rver', kind: 's3' },
  ] as const;
  const sourceFor = (kind: 'local' | 's3', bucket = BUCKET, path?: string) =>
    kind === 'local'
      ? { kind: 'local', path: path ?? a.archiveDir }
      : { kind: 's3', bucket, region: 'us-east-1', endpoint: a.endpoint };

  function expectLockMatchesArchive(lock: LockFile, backup: BackupHistory, timeline: number, kind: 'local' | 's3') {
    const walDir = join(a.archiveDir, 'wal');
    const expected = expectedWalFromDirectory(walDir, 'gzip', backup.startWalFile, timeline);
    expect(lock.backup.id).toBe(backup.label);
    expect(lock.backup.startLsn).toBe(backup.startWalLocation);
    expect(lock.backup.stopLsn).toBe(backup.stopWalLocation);
    expect(lock.backup.stopTime).toBe(backup.stopTime);
    expect(lock.backup.stopTime).toMatch(/ JST$/);
    expect(lock.targetTimeline).toBe(timeline);
    expect(lock.objects.wal.map((w) => w.name)).toEqual(expected.wal);
    expect(lock.objects.history.map((h) => h.name)).toEqual(expected.history);
    expect(lock.walRange).toMatchObject({ first: expected.wal[0], last: expected.wal.at(-1), segments: expected.wal.length });
    for (const object of [...lock.objects.wal, ...lock.objects.history, lock.backup.historyFile]) {
      expect(object.key).toBe(`wal/${object.name}.gz`);
      const body = readFileSync(join(walDir, `${object.name}.gz`));
      expect(object.size).toBe(body.length);
      if (kind === 'local') expect(object.sha256).toBe(sha256(body));
      else expect(object.etag).toBe(md5(body));
    }
    const base = lock.objects.base.map((o) => o.key);
    expect(base).toEqual([`base/${backup.label}.tar.gz`, `base/${backup.label}/backup_label`]);
  }

  describe.each(SOURCES)('resolve from a $title', ({ kind }) => {
    it('a target on timeline 2 before b2 takes b1 and follows 00000002.history across the switch', async () => {
      const plan = writePlan(join(plans, kind), { name: 't2', target: { time: a.t2.written }, source: sourceFor(kind), compression: 'gzip' });
      const result = await resolve(plan);
      expect(result.code, result.stderr).toBe(0);
      const lock = result.lock!;
      expectLockMatchesArchive(lock, a.b1, 2, kind);
      expect(lock.chain.map((c) => c.timeline)).toEqual([1, 2]);
      // The WAL crosses from timeline 1 to 2 at the switch segment.
      const timelines = [...new Set(lock.objects.wal.map((w) => w.name.slice(0, 8)))];
      expect(timelines).toEqual(['00000001', '00000002']);
      expect(lock.walRange.latestTransactionTime).not.toBeNull();
      expect(result.stdout).toContain('backup b1');
      // Deterministic: resolving again gives the same bytes.
      const again = await resolve(plan);
      expect(again.lockText).toBe(result.lockText);
      expect(result.lockText!.endsWith('}\n')).toBe(true);
    }, 120_000);

    it('a target after b2 takes b2', async () => {
      const plan = writePlan(join(plans, kind), { name: 't3', target: { time: a.t3.written }, source: sourceFor(kind), compression: 'gzip' });
      const result = await resolve(plan);
      expect(result.code, result.stderr).toBe(0);
      expectLockMatchesArchive(result.lock!, a.b2, 2, kind);
      expect(result.lock!.objects.wal.every((w) => w.name.startsWith('00000002'))).toBe(true);
    }, 120_000);

    it('a target on the common history before the switch still takes b1 along timeline 2 (latest)', async () => {
      const plan = writePlan(join(plans, kind), { name: 't1', target: { time: a.t1.written }, source: sourceFor(kind), compression: 'gzip' });
      const result = await resolve(plan);
      expect(result.code, result.stderr).toBe(0);
      expectLockMatchesArchive(result.lock!, a.b1, 2, kind);
    }, 120_000);

    it('timeline 1 named explicitly: b1 and only timeline 1 segments; b2 (timeline 2) is not on that history', async () => {
      const plan = writePlan(join(plans, kind), { name: 't1-tl1', target: { time: a.t1.written, timeline: 1 }, source: sourceFor(kind), compression: 'gzip' });
      const result = await resolve(plan);
      expect(result.code, result.stderr).toBe(0);
      expectLockMatchesArchive(result.lock!, a.b1, 1, kind);
      expect(result.lock!.objects.wal.every((w) => w.name.startsWith('00000001'))).toBe(true);
      expect(result.lock!.objects.history).toEqual([]);

      const named = writePlan(join(plans, kind), { name: 'b2-tl1', target: { time: a.t3.written, timeline: 1 }, source: sourceFor(kind), compression: 'gzip', backup: 'b2' });
      const refused = await resolve(named);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('backup b2 (source.backup) cannot be used for this target: not on the timeline history');
    }, 120_000);

    it('a target before every backup ended: exit 1, the backups with their stop times and the earliest target that works', async () => {
      const plan = writePlan(join(plans, kind), { name: 't0', target: { time: a.t0.written }, source: sourceFor(kind), compression: 'gzip' });
      const result = await resolve(plan);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('no base backup ends strictly before the target');
      expect(result.stderr).toContain(`b1  (timeline 1, start ${a.b1.startWalLocation}, stop ${a.b1.stopWalLocation}, STOP TIME ${a.b1.stopTime}`);
      expect(result.stderr).toContain(`STOP TIME ${a.b2.stopTime}`);
      expect(result.stderr).toMatch(/the earliest target time that works is \S+ \(backup b1 ended by then\)/);
      expect(existsSync(plan.replace(/\.yaml$/, '.lock.json'))).toBe(false);
    }, 120_000);

    it('a target beyond the archive: exit 1 naming the last transaction archived', async () => {
      const future = formatWithOffset(Date.now() + 3_600_000, '+02:00');
      const plan = writePlan(join(plans, kind), { name: 'future', target: { time: future }, source: sourceFor(kind), compression: 'gzip' });
      const result = await resolve(plan);
      expect(result.code).toBe(1);
      const match = /is later than the last transaction in the archive \((\S+), in (\w+)\)/.exec(result.stderr);
      expect(match, result.stderr).not.toBeNull();
      const latest = Date.parse(match![1]!.replace('+00:00', 'Z'));
      expect(latest).toBeGreaterThan(a.t3.epochMs);
      expect(latest).toBeLessThanOrEqual(a.lastCommitMs);
      expect(result.stderr).toContain(`or choose a target at or before ${match![1]}`);
    }, 120_000);
  });

  describe('a WAL gap before the target', () => {
    let gapArchive: string;
    beforeAll(async () => {
      gapArchive = join(a.root, 'archive-gap');
      cpSync(a.archiveDir, gapArchive, { recursive: true });
      rmSync(join(gapArchive, 'wal', `${a.batchBSegment}.gz`));
      await uploadArchive(a.endpoint, GAP_BUCKET, gapArchive);
    }, 120_000);

    it.each(['local', 's3'] as const)('%s: exit 1 naming the missing segments and the latest reachable time', async (kind) => {
      const plan = writePlan(join(plans, `gap-${kind}`), {
        name: 'gap',
        target: { time: a.t2.written },
        source: sourceFor(kind, GAP_BUCKET, gapArchive),
        compression: 'gzip',
      });
      const result = await resolve(plan);
      expect(result.code).toBe(1);
      const match = /WAL gap before the target: segments (\w+)(?: to (\w+))? are missing from the archive; the last transaction before the gap ended at (\S+)/.exec(result.stderr);
      expect(match, result.stderr).not.toBeNull();
      expect(match![1]).toBe(a.batchBSegment);
      const latest = Date.parse(match![3]!.replace('+00:00', 'Z'));
      expect(latest).toBeLessThanOrEqual(a.batchAEndMs);
      expect(latest).toBeGreaterThan(a.t1.epochMs);
      expect(result.stderr).toContain('restore the missing segments into the archive, or choose a target at or before');
    }, 120_000);
  });

  describe('pitr inspect against the timeline 2 server', () => {
    const inspectPlan = (name: string, overrides: { postgres?: Record<string, unknown>; verify?: Record<string, unknown> } = {}) =>
      writePlan(join(plans, 'inspect'), {
        name,
        target: { time: a.t3.written },
        source: sourceFor('local'),
        compression: 'gzip',
        postgres: { dataDir: a.tl2.dataDir, host: a.tl2.socketDir, port: a.tl2.port, ...overrides.postgres },
        verify: {
          rowCounts: ['events', 'accounts'],
          notAfterTarget: [{ table: 'events', column: 'created_at' }],
          ...overrides.verify,
        },
      });

    async function inspect(plan: string, format: 'text' | 'json' = 'text') {
      const { io, out } = capture();
      const code = await runInspect(plan, { format }, io);
      return { code, ...out };
    }

    it('a matching plan: every check passes (warnings allowed), exit 0', async () => {
      const result = await inspect(inspectPlan('match'));
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).not.toMatch(/^fail /m);
      expect(result.stdout).toMatch(/^pass\s+server version\s+PostgreSQL 15\./m);
      expect(result.stdout).toMatch(/^pass\s+data_directory\s/m);
      expect(result.stdout).toMatch(/^info\s+timezone\s+timezone Asia\/Tokyo, log_timezone Asia\/Tokyo \(backups' STOP TIME reads "JST"\)/m);
      expect(result.stdout).toMatch(/^info\s+wal_segment_size\s+16 MB/m);
      expect(result.stdout).toMatch(/^info\s+hot_standby\s+on/m);
      expect(result.stdout).toMatch(/^pass\s+archive_mode\s+on/m);
      expect(result.stdout).toMatch(/^pass\s+archive_command\s/m);
      expect(result.stdout).toMatch(/^pass\s+table events\s/m);
      expect(result.stdout).toMatch(/^pass\s+column events.created_at\s+timestamp with time zone/m);

      const json = await inspect(inspectPlan('match'), 'json');
      const report = JSON.parse(json.stdout) as { ok: boolean; checks: { check: string; status: string }[] };
      expect(report.ok).toBe(true);
      expect(report.checks.find((c) => c.check === 'archive_mode')?.status).toBe('pass');
    }, 60_000);

    it('a wrong dataDir, a wrong version and a missing table each fail on their own line, exit 1', async () => {
      const result = await inspect(inspectPlan('mismatch', {
        postgres: { dataDir: '/var/lib/postgresql/15/elsewhere', version: 16 },
        verify: { rowCounts: ['events', 'no_such_table'], notAfterTarget: [{ table: 'events', column: 'no_such_column' }] },
      }));
      expect(result.code).toBe(1);
      const failing = result.stdout.split('\n').filter((line) => line.startsWith('fail'));
      expect(failing).toHaveLength(4);
      expect(failing[0]).toMatch(/^fail\s+server version\s+the server is PostgreSQL 15\.\S+.*, the plan says 16$/);
      expect(failing[1]).toMatch(new RegExp(`^fail\\s+data_directory\\s+the server's data_directory is ${a.tl2.dataDir}, the plan says /var/lib/postgresql/15/elsewhere$`));
      expect(failing[2]).toMatch(/^fail\s+table no_such_table\s+does not exist in database app/);
      expect(failing[3]).toMatch(/^fail\s+column events.no_such_column\s+table events has no column no_such_column/);
      expect(result.stdout).toMatch(/^pass\s+table events\s/m);
    }, 60_000);

    it('no server there: exit 2 with what libpq would say and how to fix it', async () => {
      const result = await inspect(inspectPlan('down', { postgres: { port: await freePort() } }));
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`connection to server on socket "${a.tl2.socketDir}/.s.PGSQL.`);
      expect(result.stderr).toContain('fix: start the server, or fix postgres.host');
    });
  });
});

// ---------------------------------------------------------------------------
// 20,000 WAL objects, ~50 needed: the listing must not grow with the archive.

describe('resolve on an S3 archive of 20,000+ WAL objects', () => {
  let root: string;
  let endpoint: string;
  let primary: Primary;
  let b1: BackupHistory;
  let target: string;
  let walKeyCount: number;
  const DUMMY_SEGMENTS = 20_000;
  /** The primary's WAL starts here (pg_resetwal), after the dummies. */
  const FIRST_REAL_SEGNO = DUMMY_SEGMENTS + 1;

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'America/Sao_Paulo' });
    // A primary whose archive has been running for a long time: move its WAL far ahead.
    await primary.stop();
    await runAsPostgres(join(PG_BIN, 'pg_resetwal'), ['-l', segName(1, FIRST_REAL_SEGNO), primary.dataDir]);
    await startServer(primary);
    await primary.psql('CREATE DATABASE app');
    await primary.psql('CREATE TABLE events (id serial PRIMARY KEY, note text, created_at timestamptz DEFAULT now())', 'app');
    b1 = await takeBaseBackup(primary, { id: 'b1', layout: 'tarball' });
    for (let i = 0; i < 45; i++) {
      await primary.psql(`INSERT INTO events (note) VALUES ('segment ${i}')`, 'app');
      await primary.switchWal();
      if (i === 40) {
        await sleep(1100);
        target = (await recordTime(primary)).written;
        await sleep(1100);
      }
    }
    endpoint = (await startS3rver({ root })).endpoint;
    await uploadArchive(endpoint, LARGE_BUCKET, primary.archiveDir);

    // The old part of the archive: tiny dummy objects with real names, and two old
    // backups (a backup_label and a .backup file each; their tarballs are never read).
    // PutObject costs s3rver ~6 ms per object, so the 20,000 dummy segments are written
    // straight into its store (one <key>._S3rver_object file per object, as s3rver 3.7
    // keeps them); the listing below proves s3rver serves them as objects.
    const client = s3Client(endpoint);
    try {
      const dummyDir = join(root, 's3rver', LARGE_BUCKET, 'wal');
      await mkdir(dummyDir, { recursive: true });
      for (let segno = 1; segno < FIRST_REAL_SEGNO; segno++) writeFileSync(join(dummyDir, `${segName(1, segno)}._S3rver_object`), 'dummy');
      for (const [index, segno] of [[1, 5000], [2, 12000]] as const) {
        const file = segName(1, segno);
        const lsn = `${Math.floor(segno / 256).toString(16).toUpperCase()}/${(segno % 256).toString(16).toUpperCase()}000028`;
        const label = `START WAL LOCATION: ${lsn} (file ${file})\nCHECKPOINT LOCATION: ${lsn}\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2020-01-0${index} 10:00:00 -03\nLABEL: old${index}\nSTART TIMELINE: 1\n`;
        const objects: [string, string][] = [
          [`base/old${index}.tar.gz`, 'not a real tarball'],
          [`base/old${index}/backup_label`, label],
          [`wal/${file}.00000028.backup`, `${label}STOP WAL LOCATION: ${lsn.replace(/028$/, '100')} (file ${file})\nSTOP TIME: 2020-01-0${index} 10:00:05 -03\nSTOP TIMELINE: 1\n`],
        ];
        for (const [key, body] of objects) await client.send(new PutObjectCommand({ Bucket: LARGE_BUCKET, Key: key, Body: Buffer.from(body) }));
      }
    } finally {
      client.destroy();
    }
    walKeyCount = (await listKeys(endpoint, LARGE_BUCKET, 'wal/')).length;
  }, 900_000);

  afterAll(async () => {
    await cleanupHarnessRoot(root);
  }, 120_000);

  it('lists the needed range in fewer than 5 requests and pins exactly the real segments', async () => {
    const requests: { command: string; input: Record<string, unknown> }[] = [];
    const client = s3Client(endpoint);
    client.middlewareStack.add(
      (next, context) => async (args) => {
        requests.push({ command: String(context.commandName), input: { ...(args.input as Record<string, unknown>) } });
        return next(args);
      },
      { step: 'deserialize', name: 'testRequestCounter' },
    );
    const plan = writePlan(join(root, 'plans'), {
      name: 'large',
      target: { time: target },
      source: { kind: 's3', bucket: LARGE_BUCKET, region: 'us-east-1', endpoint },
      compression: 'none',
    });
    const result = await resolve(plan, { s3Client: client });
    expect(result.code, result.stderr).toBe(0);
    const lock = result.lock!;

    const walDir = join(primary.archiveDir, 'wal');
    const expected = expectedWalFromDirectory(walDir, 'none', b1.startWalFile, 1);
    expect(expected.wal.length).toBeGreaterThanOrEqual(45);
    expect(lock.backup.id).toBe('b1');
    expect(lock.backup.stopTime).toMatch(/ -03$/);
    expect(lock.objects.wal.map((w) => w.name)).toEqual(expected.wal);

    const rangeListings = requests.filter((r) => r.command === 'ListObjectsV2Command' && r.input.Prefix === 'wal/00000001' && r.input.StartAfter !== undefined);
    const walListings = requests.filter((r) => r.command === 'ListObjectsV2Command' && String(r.input.Prefix).startsWith('wal/'));
    const summary = requests.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r.command]: (acc[r.command] ?? 0) + 1 }), {});
    expect(walKeyCount).toBeGreaterThan(DUMMY_SEGMENTS);
    console.log(`resolve on an archive of ${walKeyCount} WAL objects: ${requests.length} requests`, summary,
      `range listing: ${rangeListings.length}, WAL-prefix listings: ${walListings.length}`);
    expect(rangeListings.length).toBeGreaterThanOrEqual(1);
    expect(rangeListings.length).toBeLessThan(5);
    // StartAfter is the segment before the backup's first one.
    expect(rangeListings[0]!.input.StartAfter).toBe(`wal/${segName(1, segnoOf(b1.startWalFile) - 1)}`);
    // Everything else is small too: no request lists the whole WAL prefix.
    expect(walListings.length).toBeLessThan(5);
    expect(requests.length).toBeLessThan(20);
    expect(result.stdout).toMatch(/S3 requests: \d+/);
  }, 300_000);
});
