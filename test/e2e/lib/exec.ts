// Running commands (as root or as the `postgres` OS user), polling, free ports.
//
// Everything here is asynchronous on purpose: s3rver runs inside the test process,
// so a synchronous child (execSync) would block the event loop and the aws CLI
// talking to s3rver would hang.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
export const PG_OS_USER = 'postgres';

export interface RunOptions {
  /** Run through `runuser -u postgres --` (PostgreSQL refuses to run as root). */
  asPostgres?: boolean;
  /** Full environment of the child; defaults to `cleanEnv()`. */
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** Defaults to `/`, a directory every user can enter (postgres tools warn otherwise). */
  cwd?: string;
  /** Resolve with the result instead of rejecting when the exit code is not 0. */
  allowFailure?: boolean;
  /** Kill the child (SIGKILL) after this long; the promise then rejects. */
  timeoutMs?: number;
}

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** How long the command took, for reports (never asserted on). */
  durationMs: number;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(
      `command failed (exit ${result.code ?? result.signal}): ${argv.join(' ')}\n` +
        `--- stderr ---\n${result.stderr.trim()}\n--- stdout ---\n${result.stdout.trim()}`,
    );
  }
}

/**
 * The environment for children: ours without PG* and AWS_* variables, so that a
 * developer's PGPORT or AWS profile can never leak into a test server or an aws call.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('PG') || key.startsWith('AWS_')) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const argv = options.asPostgres ? ['runuser', '-u', PG_OS_USER, '--', command, ...args] : [command, ...args];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd ?? '/',
      env: options.env ?? cleanEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // A child that exits without reading its stdin must not crash us with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: RunResult = { code, signal, stdout, stderr, durationMs: Date.now() - started };
      if (timedOut) reject(new Error(`timed out after ${options.timeoutMs} ms: ${argv.join(' ')}`));
      else if (code !== 0 && !options.allowFailure) reject(new CommandError(argv, result));
      else resolve(result);
    });
  });
}

/** Shorthand for `run(...)` as the postgres OS user. */
export function runAsPostgres(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run(command, args, { ...options, asPostgres: true });
}

/** Give a path (recursively) to the postgres OS user. */
export async function chownToPostgres(path: string): Promise<void> {
  await run('chown', ['-R', `${PG_OS_USER}:${PG_OS_USER}`, path]);
}

/** A TCP port nobody listens on right now on 127.0.0.1 (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  /** What we are waiting for, for the error message. */
  description: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Extra context appended to the timeout error (e.g. the tail of a server log). */
  diagnostics?: () => Promise<string>;
}

/** Thrown from a waitFor() check to stop waiting at once (other errors are retried). */
export class StopWaiting extends Error {}

/**
 * Poll `check` until it returns something other than undefined/false, and return
 * that. Errors thrown by `check` count as "not yet", except StopWaiting, which fails
 * at once. Deadlines only turn a hang into a readable failure; no test asserts on time.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false>,
  { description, timeoutMs = 120_000, intervalMs = 200, diagnostics }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const extra = diagnostics ? `\n${await diagnostics().catch((e: unknown) => String(e))}` : '';
      const last = lastError ? `\nlast error: ${String(lastError)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${last}${extra}`);
    }
    await sleep(intervalMs);
  }
}

/** The last `lines` lines of a text file ('' if it does not exist), for error messages. */
export async function tailFile(path: string, lines = 40): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return `--- last ${lines} lines of ${path} ---\n` + text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${path})`;
  }
}
