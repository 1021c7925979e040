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
      const output = await runWaldump(waldump, dir, ['--rmgr=Transaction', name]);
      const latest = latestTransactionMicros(output.stdout);
      if (latest === null) {
        // No transaction: an answer only if pg_waldump could decode the segment's first
        // record. Otherwise it failed (another major's WAL, a damaged file), and that
        // failure is what must be reported, never "no transaction".
        const first = await runWaldump(waldump, dir, ['--limit=1', name]);
        if (first.code !== 0 || first.stdout.trim() === '') {
          throw new WaldumpFailure(`pg_waldump (${waldump}) cannot read WAL segment ${name}: ${firstLines(first.stderr) || `exit ${String(first.code)}, no record decoded`}`);
        }
      }
      await rm(path, { force: true });
      if (latest !== null) return { latestTransactionMicros: latest, segmentsRead };
    }
    return { latestTransactionMicros: null, segmentsRead };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** pg_waldump could not read the WAL at all: the message says what it reported. */
export class WaldumpFailure extends Error {}

function firstLines(text: string): string {
  return text.split('\n').filter((l) => l.trim() !== '').slice(0, 2).join(' ');
}

interface WaldumpRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * pg_waldump's records (stdout) and messages; it ends with an error at the end of
 * written WAL, which is expected, so the exit code alone proves nothing.
 */
function runWaldump(waldump: string, dir: string, args: string[]): Promise<WaldumpRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(waldump, [`--path=${dir}`, ...args], {
      env: { ...process.env, TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: dir,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
  });
}

/** The major `pg_waldump --version` reports ("pg_waldump (PostgreSQL) 15.14"), or null. */
export function waldumpMajor(waldump: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(waldump, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', () => resolve(null));
    child.on('close', () => {
      const match = /\(PostgreSQL\) (\d+)/.exec(out);
      resolve(match ? Number(match[1]) : null);
    });
  });
}
