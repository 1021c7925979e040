// `npm run demo` (scripts/demo.sh) on this machine: a throwaway PostgreSQL 15, an
// incident, a compiled plan, drill.sh and run.sh --yes. The table it prints must show
// production back at the target (after == target != before), and nothing may be left
// behind: no process of its directory, no directory. Interrupted midway, it must clean
// up just the same.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cleanEnv, run, sleep } from './harness.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

interface Row {
  rows: number;
  total: string;
}

/** The rows of the demo's result table. */
function parseTable(stdout: string): Record<'before' | 'target' | 'after', Row> {
  const row = (label: string): Row => {
    const m = new RegExp(`^\\| ${label}[^|]*\\|\\s*(\\d+) \\|\\s*([0-9.]+) \\|$`, 'm').exec(stdout);
    if (!m) throw new Error(`no "${label}" row in the demo's output:\n${stdout}`);
    return { rows: Number(m[1]), total: m[2] ?? '' };
  };
  return { before: row('before'), target: row('at the target'), after: row('after the recovery') };
}

/** The temporary directory the demo announced. */
function demoDir(stderr: string): string {
  const m = /a throwaway PostgreSQL 15 in (\S+),/.exec(stderr);
  if (!m?.[1]) throw new Error(`the demo did not name its directory:\n${stderr.slice(0, 2000)}`);
  return m[1];
}

/** Processes whose command line names DIR (a postmaster runs as `postgres -D DIR/...`). */
async function processesIn(dir: string): Promise<string> {
  const result = await run('pgrep', ['-a', '-f', dir], { allowFailure: true });
  return result.stdout.split('\n').filter((line) => line.trim() !== '' && !line.includes('pgrep')).join('\n');
}

describe('npm run demo', () => {
  it('recovers production to the target, prints before / target / after, and leaves nothing behind', async () => {
    const started = Date.now();
    const result = await run('npm', ['run', '--silent', 'demo'], { cwd: REPO_ROOT, env: cleanEnv(), allowFailure: true, timeoutMs: 300_000 });
    const seconds = Math.round((Date.now() - started) / 1000);
    expect(result.code, `exit ${result.code}\n${result.stderr.slice(-6000)}`).toBe(0);

    const table = parseTable(result.stdout);
    expect(table.after).toEqual(table.target);
    expect(table.before.rows).not.toBe(table.target.rows);
    expect(table.before.total).not.toBe(table.target.total);
    expect(result.stdout).toContain('recovered: production is back at the target');
    // The run went through drill and the real recovery, on the backup taken before the target.
    expect(result.stderr).toContain('drill passed');
    expect(result.stderr).toContain('base backup: demo-base-1 ');
    expect(result.stderr).toContain('production serves the recovered data on timeline 2');

    const dir = demoDir(result.stderr);
    expect(existsSync(dir), `${dir} still exists`).toBe(false);
    expect(await processesIn(dir)).toBe('');
    console.log(`npm run demo took ${seconds}s`);
  }, 300_000);

  it('interrupted while its server runs, it still stops everything and removes its directory', async () => {
    const child = spawn('bash', [join(REPO_ROOT, 'scripts', 'demo.sh')], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 120_000;
    while (!stderr.includes('the shop takes orders') && Date.now() < deadline) await sleep(100);
    expect(stderr).toContain('the shop takes orders');
    const dir = demoDir(stderr);
    expect(await processesIn(dir)).not.toBe('');
    child.kill('SIGTERM');
    const code = await exited;
    expect(code).not.toBe(0);
    expect(stderr).toContain('demo: FAILED');
    expect(existsSync(dir), `${dir} still exists`).toBe(false);
    expect(await processesIn(dir)).toBe('');
  }, 180_000);
});
