// Timing helpers for the benchmark: a monotonic clock, commands whose output lines are
// time-stamped as they arrive, and reading a PostgreSQL server log (its `%m` prefix,
// in UTC on the bench's servers) onto the same clock.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { sleep } from '../test/e2e/lib/exec.js';

/** Milliseconds on a monotonic clock. */
export const now = (): number => performance.now();

/** A wall-clock instant (ms since 1970) on the monotonic clock of now(). */
export const wallToMono = (epochMs: number): number => epochMs - performance.timeOrigin;

export const seconds = (ms: number): string => (ms / 1000).toFixed(1);

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function log(message: string): void {
  const stamp = new Date().toISOString().slice(11, 19);
  process.stdout.write(`[bench ${stamp}] ${message}\n`);
}

export interface StampedLine {
  /** now() when the line arrived. */
  t: number;
  text: string;
}

export interface StampedResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  start: number;
  end: number;
  lines: StampedLine[];
}

/**
 * Run a command with its stdout and stderr lines time-stamped on arrival (the generated
 * scripts log with one-second timestamps; this gives milliseconds). Never rejects on a
 * non-zero exit; rejects on a timeout after killing the child.
 */
export function runStamped(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; timeoutMs: number; echo?: (line: string) => void },
): Promise<StampedResult> {
  const start = now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: '/', env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: StampedLine[] = [];
    const collect = (text: string): void => {
      lines.push({ t: now(), text });
      options.echo?.(text);
    };
    createInterface({ input: child.stdout }).on('line', collect);
    createInterface({ input: child.stderr }).on('line', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`timed out after ${options.timeoutMs} ms: ${command} ${args.join(' ')}`));
      else resolve({ code, signal, start, end: now(), lines });
    });
  });
}

/** The first stamped line matching `pattern`, if any. */
export function lineTime(result: StampedResult, pattern: RegExp): number | undefined {
  return result.lines.find((line) => pattern.test(line.text))?.t;
}

// ---------------------------------------------------------------------------
// Server logs. The bench's primary runs with log_timezone UTC and the default
// log_line_prefix '%m [%p] ', so every line starts `2025-01-01 12:00:00.123 UTC [pid]`;
// every recovered copy inherits that configuration.

const LOG_STAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) UTC /;

function stampOf(line: string): number | undefined {
  const match = LOG_STAMP.exec(line);
  return match ? wallToMono(Date.parse(`${match[1]}T${match[2]}Z`)) : undefined;
}

export interface ServerLogFacts {
  /** `redo starts at ...`: the startup process began replaying. */
  redoStart?: number;
  /** `pausing at the end of recovery`: paused at the target. */
  paused?: number;
  /** `recovery stopping before commit of transaction N, time T`. */
  stopLine?: string;
  /** Number of `restored log file "X" from archive` lines (segments and history files). */
  restored: number;
  firstRestored?: string;
  lastRestored?: string;
  /** The first FATAL/PANIC line, if any. */
  fatal?: string;
}

export function serverLogFacts(text: string): ServerLogFacts {
  const facts: ServerLogFacts = { restored: 0 };
  for (const line of text.split('\n')) {
    if (facts.redoStart === undefined && line.includes('LOG:  redo starts at')) facts.redoStart = stampOf(line);
    if (facts.paused === undefined && line.includes('LOG:  pausing at the end of recovery')) facts.paused = stampOf(line);
    if (facts.stopLine === undefined && line.includes('LOG:  recovery stopping')) facts.stopLine = line.replace(/^.*LOG: {2}/, '');
    const restored = /LOG: {2}restored log file "([0-9A-F]{24})" from archive/.exec(line);
    if (restored) {
      facts.restored += 1;
      facts.firstRestored ??= restored[1];
      facts.lastRestored = restored[1];
    }
    if (facts.fatal === undefined && /(FATAL|PANIC): {2}/.test(line)) facts.fatal = line;
  }
  return facts;
}

export async function readServerLogFacts(logFile: string): Promise<ServerLogFacts> {
  return serverLogFacts(await readFile(logFile, 'utf8').catch(() => ''));
}

/**
 * Watch a server log (every 50 ms) until `pausing at the end of recovery` appears, and
 * return now() at that moment. A FATAL/PANIC line (e.g. "recovery ended before
 * configured recovery target was reached") or the deadline fails it, with the log tail.
 */
export async function waitForPauseInLog(logFile: string, timeoutMs: number): Promise<number> {
  const deadline = now() + timeoutMs;
  for (;;) {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    if (text.includes('LOG:  pausing at the end of recovery')) return now();
    const facts = serverLogFacts(text);
    if (facts.fatal !== undefined) throw new Error(`recovery failed: ${facts.fatal}\n${tail(text)}`);
    if (now() > deadline) throw new Error(`no pause at the target after ${timeoutMs} ms in ${logFile}\n${tail(text)}`);
    await sleep(50);
  }
}

export function tail(text: string, lines = 30): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** CPU the whole machine and this process used over a span, in CPU-milliseconds. */
export interface CpuSpan {
  /** Wall time × online CPUs: what the machine could have done. */
  capacityMs: number;
  /** Every CPU's non-idle time (user, nice, system, irq, softirq, steal). */
  busyMs: number;
  /** The niced part of busyMs: our WAL stager runs at nice 10, and nothing else here does. */
  niceMs: number;
  /** This process: s3rver serves from inside it; the bench's own log polling is small. */
  benchProcessMs: number;
}

interface ProcStatCpu {
  busy: number;
  nice: number;
  total: number;
}

// /proc/stat's first line sums every CPU, in USER_HZ ticks (100 a second on Linux).
const TICK_MS = 10;

async function readProcStatCpu(): Promise<ProcStatCpu> {
  const first = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0] ?? '';
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = first
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: user + nice + system + irq + softirq + steal, nice, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** Starts measuring; the returned function ends the span and gives what it used. */
export async function startCpuMeter(): Promise<() => Promise<CpuSpan>> {
  const before = await readProcStatCpu();
  const ownBefore = process.cpuUsage();
  return async () => {
    const after = await readProcStatCpu();
    const own = process.cpuUsage(ownBefore);
    return {
      capacityMs: (after.total - before.total) * TICK_MS,
      busyMs: (after.busy - before.busy) * TICK_MS,
      niceMs: (after.nice - before.nice) * TICK_MS,
      benchProcessMs: (own.user + own.system) / 1000,
    };
  };
}
