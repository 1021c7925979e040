// The benchmark's data: one PostgreSQL 15 primary whose WAL goes both into the
// harness's archive (<root>/archive/{base,wal}, the layout a plan's `source` reads) and
// into a pgBackRest repository (local posix repo, archive-push from the same
// archive_command); a base backup in each; a pgbench workload of at least N WAL
// segments after the backups; a recorded target time near the end with a little WAL
// after it; the archive mirrored into s3rver.

import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PG_BIN, chownToPostgres, run, runAsPostgres, sleep } from '../test/e2e/lib/exec.js';
import { shellQuote, startPrimary, waitForArchived, type Primary } from '../test/e2e/lib/postgres.js';
import { takeBaseBackup, type BackupHistory } from '../test/e2e/lib/archive.js';
import { startS3rver, uploadArchive, type S3Endpoint } from '../test/e2e/lib/s3.js';
import { log, now, seconds } from './util.js';

export const PGBACKREST = '/usr/bin/pgbackrest';
export const STANZA = 'bench';
export const BUCKET = 'pitr-bench';
export const BASE_ID = 'bench-base';
const SEGMENT_NAME = /^[0-9A-F]{24}$/;

export interface BenchOptions {
  /** pgbench scale (-s); 15 MB of data per unit. */
  scale: number;
  /** WAL segments to produce after the later of the two base backups, before the target. */
  segments: number;
  /** pgBackRest process-max for restore (and archive-push). */
  processMax: number;
}

export interface PgBackRest {
  /** The configuration file every pgbackrest call is given with --config. */
  config: string;
  repoPath: string;
  dir: string;
  /** pgbackrest --config=... --stanza=bench ...args, as postgres. */
  run(args: string[], options?: { allowFailure?: boolean }): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export interface Workload {
  primary: Primary;
  pgbackrest: PgBackRest;
  s3: S3Endpoint;
  /** Our base backup (tarball layout: <archive>/base/bench-base.tar.gz). */
  base: BackupHistory;
  /** `YYYY-MM-DD HH:MM:SS+00` (recovery_target_time, pgbackrest --target). */
  targetSql: string;
  /** `YYYY-MM-DDTHH:MM:SS+00:00` (the plan's target.time). */
  targetIso: string;
  /** Archived segments whose names sort after the base backup's stop segment, up to the target's. */
  segmentsAfterBackup: number;
  /** Archived segments whose names sort after the base backup's stop segment. */
  segmentsArchived: number;
  /** The segment that was being written at the target time. */
  targetSegment: string;
  /** The last segment archived. */
  lastSegment: string;
  dbBytes: number;
  tarballBytes: number;
  archiveWalBytes: number;
  repoBytes: number;
  pgbackrestBackup: string;
  setupMs: number;
  workloadMs: number;
}

/** Sum of file sizes under a directory. */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function setUpPgBackRest(root: string, primary: Primary, options: BenchOptions): Promise<PgBackRest> {
  const dir = join(root, 'pgbackrest');
  const repoPath = join(dir, 'repo');
  for (const sub of ['repo', 'log', 'lock', 'spool']) await mkdir(join(dir, sub), { recursive: true });
  const config = join(dir, 'pgbackrest.conf');
  // Defaults otherwise (compress-type gz); async archiving and 4 processes as the issue asks.
  await writeFile(
    config,
    [
      '[global]',
      `repo1-path=${repoPath}`,
      'repo1-retention-full=1',
      `log-path=${join(dir, 'log')}`,
      `lock-path=${join(dir, 'lock')}`,
      `spool-path=${join(dir, 'spool')}`,
      'log-level-console=warn',
      'log-level-file=info',
      'start-fast=y',
      'archive-async=y',
      `process-max=${options.processMax}`,
      '',
      `[${STANZA}]`,
      `pg1-path=${primary.dataDir}`,
      `pg1-socket-path=${primary.socketDir}`,
      `pg1-port=${primary.port}`,
      'pg1-user=postgres',
      '',
    ].join('\n'),
  );
  await chownToPostgres(dir);
  await chmod(config, 0o640);
  const pgbackrest: PgBackRest = {
    config,
    repoPath,
    dir,
    run: (args, runOptions = {}) =>
      runAsPostgres(PGBACKREST, [`--config=${config}`, `--stanza=${STANZA}`, ...args], {
        allowFailure: runOptions.allowFailure,
        timeoutMs: 900_000,
      }),
  };
  await pgbackrest.run(['stanza-create']);
  return pgbackrest;
}

/** The segment number (timeline ignored) of a 24-hex-digit WAL file name. */
export function segmentNumber(name: string): number {
  return Number.parseInt(name.slice(8, 16), 16) * 0x100 + Number.parseInt(name.slice(16, 24), 16);
}

async function pgbench(primary: Primary, args: string[]): Promise<string> {
  const result = await runAsPostgres(
    join(PG_BIN, 'pgbench'),
    ['-h', primary.socketDir, '-p', String(primary.port), '-U', 'postgres', ...args, 'postgres'],
    { timeoutMs: 900_000 },
  );
  return `${result.stdout}\n${result.stderr}`;
}

export async function buildWorkload(root: string, options: BenchOptions): Promise<Workload> {
  const started = now();
  log('starting the PostgreSQL 15 primary (log_timezone UTC)');
  const primary = await startPrimary({ root, timezone: 'UTC' });
  const pgbackrest = await setUpPgBackRest(root, primary, options);

  // Every WAL file goes to our archive (as the harness's archive_command does, but
  // idempotent so that a failed pgbackrest push can be retried) and then to pgBackRest.
  const walDir = join(primary.archiveDir, 'wal');
  const target = (name: string) => shellQuote(join(walDir, name));
  const archiveCommand =
    `{ test -f ${target('%f')} || { cp %p ${target('%f.tmp')} && mv ${target('%f.tmp')} ${target('%f')}; }; } && ` +
    `${PGBACKREST} --config=${shellQuote(pgbackrest.config)} --stanza=${STANZA} archive-push %p`;
  await primary.psql(`ALTER SYSTEM SET archive_command = ${sqlLiteral(archiveCommand)}`);
  await primary.psql('SELECT pg_reload_conf()');
  await pgbackrest.run(['check']);

  log(`pgbench -i -s ${options.scale}`);
  await pgbench(primary, ['-i', '-q', '-s', String(options.scale)]);
  await primary.psql('CHECKPOINT');
  const dbBytes = Number(await primary.psql("SELECT pg_database_size('postgres')"));

  // pgBackRest's backup first: ours then starts a little later, so pgBackRest replays
  // slightly more WAL (a few segments), never less.
  log('base backups: a pgBackRest full backup, then pg_basebackup (tarball layout) into the archive');
  await pgbackrest.run(['--type=full', 'backup']);
  const base = await takeBaseBackup(primary, { id: BASE_ID, layout: 'tarball' });
  const info = JSON.parse((await pgbackrest.run(['--output=json', 'info'])).stdout) as Array<{
    backup: Array<{ label: string; archive: { start: string; stop: string } }>;
  }>;
  const backupInfo = info[0]?.backup.at(-1);
  if (!backupInfo) throw new Error('pgbackrest info shows no backup');
  // The archive also holds pgBackRest's backup history file; the plans name ours (source.backup).
  const laterStop = backupInfo.archive.stop > base.stopWalFile ? backupInfo.archive.stop : base.stopWalFile;

  // TPC-B transactions plus updates of 1,000 rows spread one per heap page (61 rows fit
  // a pgbench_accounts page), with a CHECKPOINT after each round: most of the WAL is
  // full-page images, as after any checkpoint in production.
  const bulkScript = join(root, 'spread.sql');
  await writeFile(
    bulkScript,
    '\\set a random(1, 100000 * :scale - 61000)\n' +
      'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid BETWEEN :a AND :a + 60999 AND aid % 61 = 0;\n',
  );
  await chownToPostgres(bulkScript);
  const workloadArgs = ['-c', '4', '-j', '2', '-b', 'tpcb-like', '-f', bulkScript];
  const workloadStarted = now();
  const currentSegment = async () => primary.psql('SELECT pg_walfile_name(pg_current_wal_lsn())');
  const segmentsSince = async () => segmentNumber(await currentSegment()) - segmentNumber(laterStop);
  while ((await segmentsSince()) < options.segments) {
    await pgbench(primary, [...workloadArgs, '-T', '8']);
    await primary.psql('CHECKPOINT');
    log(`workload: ${await segmentsSince()} segments written since the backups`);
  }

  // The final round runs across the target: commits right before and after it.
  const finalRound = pgbench(primary, [...workloadArgs, '-T', '8']);
  await sleep(3_000);
  const [targetSql, targetIso] = (
    await primary.psql(
      `SELECT to_char(t, 'YYYY-MM-DD HH24:MI:SS"+00"') || '|' || to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')
         FROM (SELECT date_trunc('second', clock_timestamp() AT TIME ZONE 'UTC') + interval '1 second' AS t) s`,
    )
  ).split('|') as [string, string];
  await sleep(1_500);
  const targetSegment = await currentSegment();
  await finalRound;
  const lastSegment = await primary.switchWal();
  // pgbackrest check switches WAL again and waits until pgBackRest's repository has it.
  await pgbackrest.run(['check']);
  await waitForArchived(primary, lastSegment);
  const workloadMs = now() - workloadStarted;

  const segments = (await readdir(walDir)).filter((name) => SEGMENT_NAME.test(name)).sort();
  // Segments after our backup's stop segment up to the one holding the target, by name.
  const segmentsAfterBackup = segments.filter((name) => name > base.stopWalFile && name <= targetSegment).length;
  const segmentsArchived = segments.filter((name) => name > base.stopWalFile).length;
  log(`workload done: ${segmentsAfterBackup} segments after the base backup up to the target (${segmentsArchived} archived after it); target ${targetIso}`);
  if (segmentsAfterBackup < options.segments) throw new Error(`only ${segmentsAfterBackup} segments between the backup and the target`);

  log('starting s3rver and uploading the archive');
  const s3 = await startS3rver({ root });
  const uploadStarted = now();
  await uploadArchive(s3.endpoint, BUCKET, primary.archiveDir);
  log(`uploaded in ${seconds(now() - uploadStarted)} s`);

  return {
    primary,
    pgbackrest,
    s3,
    base,
    targetSql,
    targetIso,
    segmentsAfterBackup,
    segmentsArchived,
    targetSegment,
    lastSegment,
    dbBytes,
    tarballBytes: (await stat(join(primary.archiveDir, 'base', `${BASE_ID}.tar.gz`))).size,
    archiveWalBytes: await directoryBytes(walDir),
    repoBytes: await directoryBytes(pgbackrest.repoPath),
    pgbackrestBackup: `${backupInfo.label} (WAL ${backupInfo.archive.start}..${backupInfo.archive.stop})`,
    setupMs: now() - started,
    workloadMs,
  };
}

function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** apt-get install pgbackrest when it is missing (the benchmark only; tests do not need it). */
export async function ensurePgBackRest(): Promise<void> {
  if (existsSync(PGBACKREST)) return;
  log('installing Debian package pgbackrest');
  await run('apt-get', ['update', '-qq'], { timeoutMs: 600_000 });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'pgbackrest'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeoutMs: 600_000,
  });
}
