/**
 * Undoing the archive's compression (source.wal.compression; every archived file is
 * stored as <name>.gz or <name>.zst then). gzip through zlib; zstd through the zstd
 * program (Node 20's zlib has no zstd), as the generated scripts do.
 */
import { spawn } from 'node:child_process';
import { constants, gunzipSync } from 'node:zlib';

export type Compression = 'none' | 'gzip' | 'zstd';

export function compressionSuffix(compression: Compression): '' | '.gz' | '.zst' {
  return compression === 'gzip' ? '.gz' : compression === 'zstd' ? '.zst' : '';
}

/**
 * Decompress `data` (stored under `key`: the suffix says whether it is compressed).
 * `partial`: `data` is only the start of the object; return what it decodes to.
 */
export async function decompressByKey(key: string, data: Buffer, partial = false): Promise<Buffer> {
  if (key.endsWith('.gz')) {
    return partial ? gunzipSync(data, { finishFlush: constants.Z_SYNC_FLUSH }) : gunzipSync(data);
  }
  if (key.endsWith('.zst')) return programDecompress('zstd', data, partial);
  // Base backups only (pg_basebackup --compress=lz4); WAL archives are never lz4 here.
  if (key.endsWith('.lz4')) return programDecompress('lz4', data, partial);
  return data;
}

/**
 * The tars of a base backup, as pg_basebackup -Ft writes them: base.tar, and with -z or
 * --compress=gzip .tar.gz, --compress=[server-|client-]zstd .tar.zst, lz4 .tar.lz4 (the
 * tarball layout: <id> and one of these). When several exist, the first here wins: the
 * generated scripts (lib/archive.sh, BACKUP_TAR_SUFFIXES) use the same order.
 */
export const BACKUP_TAR_SUFFIXES = ['.tar.gz', '.tar.zst', '.tar.lz4', '.tar'] as const;

/** `stem` plus the first suffix of BACKUP_TAR_SUFFIXES among `keys`, or null. */
export function pickBackupTar(keys: Iterable<string>, stem: string): string | null {
  const present = new Set(keys);
  for (const suffix of BACKUP_TAR_SUFFIXES) if (present.has(stem + suffix)) return stem + suffix;
  return null;
}

/** The backup tar suffix `key` ends with, or null. */
export function backupTarSuffix(key: string): string | null {
  return BACKUP_TAR_SUFFIXES.find((suffix) => key.endsWith(suffix)) ?? null;
}

function programDecompress(program: 'zstd' | 'lz4', data: Buffer, partial: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdin.on('error', () => {});
    child.on('error', (error) => reject(new Error(`cannot run ${program} (apt-get install ${program}): ${error.message}`)));
    child.on('close', (code) => {
      // A truncated frame is an error for zstd and lz4, but what they wrote before is good data.
      if (code === 0 || (partial && out.length > 0)) resolve(Buffer.concat(out));
      else reject(new Error(`${program} failed: ${err.trim()}`));
    });
    child.stdin.end(data);
  });
}
