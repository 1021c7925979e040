/**
 * Whether the archived WAL reaches a time target: download the last segments of the
 * contiguous range (newest first, at most 16, as the preflight does) and read the
 * newest COMMIT/ABORT time with pg_waldump.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { latestTransactionMicros } from '../archive/waldump.js';
import type { ReachabilityProbe } from '../archive/wal-range.js';
import type { WalArchive } from './wal-archive.js';

export const MAX_PROBED_SEGMENTS = 16;

/** pg_waldump from the plan's binDir, else from PATH; null when there is none. */
export async function findPgWaldump(binDir: string): Promise<string | null> {
  const candidates = [join(binDir, 'pg_waldump'), ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'pg_waldump'))];
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  return null;
}

/** `names`: segments in replay order; the last ones are read, newest first. */
export async function probeLatestTransaction(
  archive: WalArchive,
  names: readonly string[],
  waldump: string,
): Promise<ReachabilityProbe> {
  const dir = await mkdtemp(join(tmpdir(), 'pitr-waldump-'));
  let segmentsRead = 0;
  try {
    for (const name of [...names].reverse().slice(0, MAX_PROBED_SEGMENTS)) {
      const file = await archive.readWalFile(name);
      if (!file) break;
      segmentsRead += 1;
      const path = join(dir, name);
      await writeFile(path, file.body);
      const output = await runWaldump(waldump, dir, name);
      await rm(path, { force: true });
      const latest = latestTransactionMicros(output);
      if (latest !== null) return { latestTransactionMicros: latest, segmentsRead };
    }
    return { latestTransactionMicros: null, segmentsRead };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** pg_waldump's records (stdout); it ends with an error at the end of written WAL, which is expected. */
function runWaldump(waldump: string, dir: string, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(waldump, [`--path=${dir}`, '--rmgr=Transaction', name], {
      env: { ...process.env, TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: dir,
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}
