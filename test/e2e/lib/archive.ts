// Base backups laid out in the archive exactly as a plan's `source.base.layout`
// describes, and reading the archive's `<segment>.<offset>.backup` history files.
//
//   <root>/archive/base/<id>.tar.gz            layout: tarball
//   <root>/archive/base/<id>/backup_label
//   <root>/archive/base/<id>/base.tar.gz       layout: pg_basebackup
//   <root>/archive/base/<id>/pg_wal.tar.gz
//   <root>/archive/base/<id>/backup_manifest
//   <root>/archive/wal/<segment>[.gz|.zst]     written by the primary's archive_command

import { mkdir, mkdtemp, readFile, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { PG_BIN, chownToPostgres, run, runAsPostgres, waitFor, tailFile } from './exec.js';
import type { Primary } from './postgres.js';

export type BaseBackupLayout = 'tarball' | 'pg_basebackup';

/** The parsed contents of an archived `<segment>.<offset>.backup` history file. */
export interface BackupHistory {
  /** The file's name in the archive (with .gz/.zst when compressed). */
  fileName: string;
  label: string;
  startWalLocation: string;
  /** The segment named in `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)`. */
  startWalFile: string;
  stopWalLocation: string;
  stopWalFile: string;
  /** As PostgreSQL writes it: local time in log_timezone with a zone ABBREVIATION, e.g. `2024-01-15 14:30:00 JST`. */
  startTime: string;
  stopTime: string;
  /** Every `KEY: value` line, verbatim. */
  fields: Record<string, string>;
  raw: string;
}

const BACKUP_HISTORY_NAME = /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup(\.gz|\.zst)?$/;

/** Read an archived file, undoing the archive's compression (by file suffix). */
export async function readArchivedFile(path: string): Promise<Buffer> {
  if (path.endsWith('.gz')) return gunzipSync(await readFile(path));
  if (path.endsWith('.zst')) {
    // Node 20's zlib has no zstd: decompress with the zstd tool into a temporary file.
    // (Not beside the original: the archive directory must only hold archived files.)
    const scratch = await mkdtemp(join(tmpdir(), 'pitr-zstd-'));
    try {
      const decompressed = join(scratch, 'file');
      await run('zstd', ['-q', '-d', '-o', decompressed, path]);
      return await readFile(decompressed);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  return readFile(path);
}

export function parseBackupHistory(fileName: string, text: string): BackupHistory {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 2);
  }
  const fileIn = (value = '') => /\(file ([0-9A-F]{24})\)/.exec(value)?.[1] ?? '';
  const locationIn = (value = '') => value.split(' ')[0] ?? '';
  return {
    fileName,
    label: fields['LABEL'] ?? '',
    startWalLocation: locationIn(fields['START WAL LOCATION']),
    startWalFile: fileIn(fields['START WAL LOCATION']),
    stopWalLocation: locationIn(fields['STOP WAL LOCATION']),
    stopWalFile: fileIn(fields['STOP WAL LOCATION']),
    startTime: fields['START TIME'] ?? '',
    stopTime: fields['STOP TIME'] ?? '',
    fields,
    raw: text,
  };
}

/** Every backup history file in `<archiveDir>/wal`, oldest first (names sort by WAL position). */
export async function listBackupHistories(archiveDir: string): Promise<BackupHistory[]> {
  const walDir = join(archiveDir, 'wal');
  const names = (await readdir(walDir)).filter((name) => BACKUP_HISTORY_NAME.test(name)).sort();
  const histories: BackupHistory[] = [];
  for (const name of names) {
    histories.push(parseBackupHistory(name, (await readArchivedFile(join(walDir, name))).toString('utf8')));
  }
  return histories;
}

export interface TakeBaseBackupOptions {
  /** The backup id; passed as pg_basebackup's label, so the history file says `LABEL: <id>`. */
  id: string;
  layout: BaseBackupLayout;
  /**
   * tarball layout only: `pg_basebackup -Fp`, then a tar of the data directory, as a
   * runbook does on a backup host. Each tablespace's pg_tblspc/<oid> link in the tar
   * points at production's tablespace directory (where it lived on the primary); the
   * tablespace's files go beside backup_label as `<id>/<oid>.tar.gz`.
   */
  plain?: boolean;
  /**
   * How the tars are compressed: gzip (-z, default), or pg_basebackup 15's
   * --compress=server-zstd / zstd / lz4 (objects then end in .tar.zst / .tar.lz4).
   */
  compress?: BackupCompression;
  /**
   * pg_basebackup (15's; it refuses servers of 16+) or the low-level API through psql:
   * pg_backup_start/pg_backup_stop (15+; pg_start_backup/pg_stop_backup on 13 and 14)
   * around a tar of the data directory. Default: pg_basebackup up to 15, else low-level.
   */
  method?: 'pg_basebackup' | 'low-level';
}

export type BackupCompression = 'gzip' | 'server-zstd' | 'zstd' | 'lz4';

/** The tar suffix each compression gives. */
export function tarSuffix(compress: BackupCompression): string {
  return { gzip: '.tar.gz', 'server-zstd': '.tar.zst', zstd: '.tar.zst', lz4: '.tar.lz4' }[compress];
}

/**
 * pg_basebackup (as postgres, over the socket) into a staging directory, then move
 * the result into `<archive>/base` in the requested layout, then wait until the
 * backup's history file is archived. Returns the parsed history file.
 *
 * tarball: `-Ft -z -X none` — the tar holds the data directory's contents at its
 *   root (including backup_label) and no WAL: recovery needs the WAL archive.
 * pg_basebackup: `-Ft -z -X stream` — base.tar.gz, pg_wal.tar.gz, backup_manifest.
 *   (Not `-X fetch`: in tar format fetch puts pg_wal/ inside base.tar.gz and writes
 *   no pg_wal.tar.gz; only stream, pg_basebackup's default, writes it separately.)
 */
export async function takeBaseBackup(primary: Primary, options: TakeBaseBackupOptions): Promise<BackupHistory> {
  const { id, layout, compress = 'gzip', plain = false } = options;
  const method = options.method ?? (primary.major <= 15 ? 'pg_basebackup' : 'low-level');
  const staging = join(primary.root, 'staging', id);
  await mkdir(staging, { recursive: true });
  await chownToPostgres(join(primary.root, 'staging'));
  if (plain) {
    if (layout !== 'tarball') throw new Error('plain backups are packed in the tarball layout only');
    return takePlainTarball(primary, id, staging);
  }
  if (method === 'low-level') {
    if (compress !== 'gzip' || layout !== 'tarball') throw new Error('low-level backups: tarball layout, gzip only');
    await lowLevelBackup(primary, id, staging);
  } else {
    await runAsPostgres(join(PG_BIN, 'pg_basebackup'), [
      '-h', primary.socketDir,
      '-p', String(primary.port),
      '-U', 'postgres',
      '-D', staging,
      '-Ft', ...(compress === 'gzip' ? ['-z'] : [`--compress=${compress}`]),
      '-X', layout === 'tarball' ? 'none' : 'stream',
      '-l', id,
      '-c', 'fast',
      '-w',
    ]);
  }

  const suffix = tarSuffix(compress);
  const baseDir = join(primary.archiveDir, 'base');
  const backupDir = join(baseDir, id);
  await mkdir(backupDir, { recursive: true });
  if (layout === 'tarball') {
    const tarball = join(baseDir, `${id}${suffix}`);
    await rename(join(staging, `base${suffix}`), tarball);
    // GNU tar recognises gzip, zstd and lz4 by their magic bytes.
    await run('tar', ['-xf', tarball, '-C', backupDir, 'backup_label']);
  } else {
    // pg_basebackup 15 compresses the streamed pg_wal.tar only with gzip: with lz4 or
    // zstd it stays pg_wal.tar. Move whichever it wrote.
    const walTar = (await readdir(staging)).find((name) => name.startsWith('pg_wal.tar'));
    for (const name of [`base${suffix}`, ...(walTar ? [walTar] : []), 'backup_manifest']) {
      await rename(join(staging, name), join(backupDir, name));
    }
  }
  // Tablespaces (-Ft writes one <oid>.tar.gz each): beside the base backup's objects.
  for (const name of await readdir(staging)) {
    if (/^\d+\.tar\.gz$/.test(name)) await rename(join(staging, name), join(backupDir, name));
  }
  await rm(staging, { recursive: true, force: true });
  await chownToPostgres(baseDir);

  return waitForBackupHistory(primary, id);
}

/** The primary's tablespaces outside the data directory: oid and location. */
export async function tablespacesOf(primary: Primary): Promise<Array<{ oid: string; location: string }>> {
  const rows = await primary.psql("SELECT oid, pg_tablespace_location(oid) FROM pg_tablespace WHERE pg_tablespace_location(oid) LIKE '/%' ORDER BY oid");
  return rows.split('\n').filter((r) => r !== '').map((r) => {
    const [oid, location] = r.split('|') as [string, string];
    return { oid, location };
  });
}

/** See TakeBaseBackupOptions.plain. */
async function takePlainTarball(primary: Primary, id: string, staging: string): Promise<BackupHistory> {
  const tablespaces = await tablespacesOf(primary);
  const dataCopy = join(staging, 'data');
  // On the primary's own host, -Fp must map each tablespace away from production's.
  const mapping = tablespaces.flatMap((t) => ['-T', `${t.location}=${join(staging, `ts-${t.oid}`)}`]);
  await runAsPostgres(join(PG_BIN, 'pg_basebackup'), [
    '-h', primary.socketDir, '-p', String(primary.port), '-U', 'postgres',
    '-D', dataCopy, '-Fp', '-X', 'none', '-l', id, '-c', 'fast', '-w', ...mapping,
  ]);
  const baseDir = join(primary.archiveDir, 'base');
  const backupDir = join(baseDir, id);
  await mkdir(backupDir, { recursive: true });
  for (const t of tablespaces) {
    // As a backup host would have it: the link names production's directory.
    await run('ln', ['-sfn', t.location, join(dataCopy, 'pg_tblspc', t.oid)]);
    await run('tar', ['-czf', join(backupDir, `${t.oid}.tar.gz`), '-C', join(staging, `ts-${t.oid}`), '.']);
  }
  await run('tar', ['-czf', join(baseDir, `${id}.tar.gz`), '-C', dataCopy, '.']);
  await run('cp', [join(dataCopy, 'backup_label'), join(backupDir, 'backup_label')]);
  await rm(staging, { recursive: true, force: true });
  await chownToPostgres(baseDir);
  return waitForBackupHistory(primary, id);
}

/**
 * A non-exclusive base backup through the low-level API, as PostgreSQL documents it
 * ("Making a Base Backup Using the Low Level API"), for servers whose pg_basebackup we
 * do not have: in ONE psql session (the backup ends if the session does), start the
 * backup, tar the data directory (without pg_wal's contents, postmaster.pid/opts and
 * temporary files), stop the backup waiting for its WAL to be archived, and add the
 * backup_label pg_backup_stop returns to the tar. Writes `<staging>/base.tar.gz`.
 */
async function lowLevelBackup(primary: Primary, id: string, staging: string): Promise<void> {
  const [start, stop] = primary.major >= 15
    ? ['pg_backup_start(:\'label\', true)', 'pg_backup_stop(true)']
    : ['pg_start_backup(:\'label\', true, false)', 'pg_stop_backup(false, true)'];
  const tar = join(staging, 'base.tar');
  const label = join(staging, 'backup_label');
  // tar exits 1 when a file changed while it was read: expected during a backup (WAL
  // replay makes those pages consistent again).
  const tarCommand = [
    'tar', '-cf', shellWord(tar), '-C', shellWord(primary.dataDir),
    "--exclude='./pg_wal/*'", "--exclude='./postmaster.pid'", "--exclude='./postmaster.opts'",
    "--exclude='./pg_stat_tmp/*'", "--exclude='./pg_replslot/*'", "--exclude='./pgsql_tmp*'", '.',
    '|| test $? -eq 1',
  ].join(' ');
  await runAsPostgres(join(PG_BIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `label=${id}`, '-h', primary.socketDir, '-p', String(primary.port), '-U', 'postgres', '-d', 'postgres'], {
    input: [
      `SELECT ${start};`,
      `\\! ${tarCommand}`,
      `SELECT labelfile FROM ${stop} \\g (format=unaligned tuples_only=on) ${label}`,
      '',
    ].join('\n'),
    timeoutMs: 300_000,
  });
  await runAsPostgres('tar', ['-rf', tar, '-C', staging, 'backup_label']);
  await runAsPostgres('gzip', ['-1', tar]);
}

function shellWord(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Wait until the archive holds a backup history file with `LABEL: <id>`, and return it. */
export async function waitForBackupHistory(primary: Primary, id: string, timeoutMs = 60_000): Promise<BackupHistory> {
  return waitFor(
    async () => (await listBackupHistories(primary.archiveDir)).find((history) => history.label === id),
    {
      description: `the backup history file of ${id} in ${primary.archiveDir}/wal`,
      timeoutMs,
      diagnostics: () => tailFile(primary.logFile),
    },
  );
}
