// Running a generated script in its own process group, so a test can do what an
// operator's dying terminal does: kill -9 the script AND every process it started in
// that group (phases run as child bash processes; tar, cat, aws, runuser below them).
// Servers started by pg_ctl leave the group (pg_ctl calls setsid), as they would in
// production.

import { spawn } from 'node:child_process';
import { waitFor } from './exec.js';
import type { RunResult } from './exec.js';

export interface DetachedRun {
  /** The leader's pid, which is also the process group id. */
  pid: number;
  /** Resolves when the leader exits (by itself or killed); never rejects. */
  result: Promise<RunResult>;
}

/** Start `command args` as the leader of a new process group (setsid). */
export function startDetached(command: string, args: string[], options: { env: NodeJS.ProcessEnv }): DetachedRun {
  const started = Date.now();
  const child = spawn(command, args, { cwd: '/', env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const result = new Promise<RunResult>((resolve) => {
    child.on('error', (error) => resolve({ code: -1, signal: null, stdout, stderr: `${stderr}\n${String(error)}`, durationMs: Date.now() - started }));
    // 'exit', not 'close': killed grandchildren may keep the pipes open a moment longer.
    child.on('exit', (code, signal) => {
      setImmediate(() => resolve({ code, signal, stdout, stderr, durationMs: Date.now() - started }));
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return { pid: child.pid, result };
}

/** Is any process left in process group `pgid`? */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** kill -9 of the whole process group, then wait until every member is gone. */
export async function killProcessGroup(run: DetachedRun): Promise<RunResult> {
  try {
    process.kill(-run.pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
  await waitFor(async () => !groupAlive(run.pid), { description: `process group ${run.pid} to die`, timeoutMs: 30_000 });
  return run.result;
}
