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
  if (key.endsWith('.zst')) return zstdDecompress(data, partial);
  return data;
}

function zstdDecompress(data: Buffer, partial: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdin.on('error', () => {});
    child.on('error', (error) => reject(new Error(`cannot run zstd (apt-get install zstd): ${error.message}`)));
    child.on('close', (code) => {
      // A truncated frame is an error for zstd, but what it wrote before is good data.
      if (code === 0 || (partial && out.length > 0)) resolve(Buffer.concat(out));
      else reject(new Error(`zstd failed: ${err.trim()}`));
    });
    child.stdin.end(data);
  });
}
