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
export async function takeBaseBackup(primary: Primary, { id, layout, plain = false }: TakeBaseBackupOptions): Promise<BackupHistory> {
  const staging = join(primary.root, 'staging', id);
  await mkdir(staging, { recursive: true });
  await chownToPostgres(join(primary.root, 'staging'));
  if (plain) {
    if (layout !== 'tarball') throw new Error('plain backups are packed in the tarball layout only');
    return takePlainTarball(primary, id, staging);
  }
  await runAsPostgres(join(PG_BIN, 'pg_basebackup'), [
    '-h', primary.socketDir,
    '-p', String(primary.port),
    '-U', 'postgres',
    '-D', staging,
    '-Ft', '-z',
    '-X', layout === 'tarball' ? 'none' : 'stream',
    '-l', id,
    '-c', 'fast',
    '-w',
  ]);

  const baseDir = join(primary.archiveDir, 'base');
  const backupDir = join(baseDir, id);
  await mkdir(backupDir, { recursive: true });
  if (layout === 'tarball') {
    const tarball = join(baseDir, `${id}.tar.gz`);
    await rename(join(staging, 'base.tar.gz'), tarball);
    await run('tar', ['-xzf', tarball, '-C', backupDir, 'backup_label']);
  } else {
    for (const name of ['base.tar.gz', 'pg_wal.tar.gz', 'backup_manifest']) {
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
