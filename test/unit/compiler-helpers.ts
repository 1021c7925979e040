/**
 * Shared by the compiler tests: repository paths, running the real CLI, temp dirs and
 * reading a bundle directory back into a Map. No test lives here.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAndValidate } from '../../src/plan/validate.js';
import type { NormalizedPlan } from '../../src/plan/normalized.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
export const PITR_BIN = join(REPO_ROOT, 'bin', 'pitr.js');
export const OUT_DIR = join(REPO_ROOT, 'out');
export const EXAMPLE_PLANS = ['realestateos-docker', 'realestateos-k8s'] as const;
export const examplePlanPath = (name: string): string => join(REPO_ROOT, 'plans', `${name}.yaml`);

/** The files DESIGN.md ("Output") promises in every out/<name>/. */
export const DESIGN_FILES = [
  'run.sh',
  'drill.sh',
  'rollback.sh',
  'phases/00-preflight.sh',
  'phases/01-assess.sh',
  'phases/02-stop-services.sh',
  'phases/03-safety-backup.sh',
  'phases/04-fetch.sh',
  'phases/05-configure.sh',
  'phases/06-recover.sh',
  'phases/07-verify.sh',
  'phases/08-finalize.sh',
  'lib/common.sh',
  'RUNBOOK.md',
  'plan.json',
  'SHA256SUMS',
] as const;

export function loadExamplePlan(name: string): NormalizedPlan {
  const file = examplePlanPath(name);
  return loadAndValidate(file, readFileSync(file, 'utf8'));
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The test process's environment without FORCE_COLOR (set by a developer or CI, it
 * would colour the output that tests compare); tests that want it pass opts.env. */
function plainEnv(): NodeJS.ProcessEnv {
  const { FORCE_COLOR: _force, ...rest } = process.env;
  return rest;
}

/** Runs `node bin/pitr.js ARGS...` without a shell; argv goes through as is. */
export function runPitr(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [PITR_BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: opts.env ?? plainEnv(),
    encoding: 'utf8',
    // A compile shellchecks ~36 generated files (each script with every library it
    // sources): on a 2-core runner busy with PostgreSQL tests that took over 60 s.
    timeout: 180_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a program (argv array, no shell in between) and captures everything. */
export function run(program: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  const result = spawnSync(program, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    input: opts.input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const tempDirs: string[] = [];

/** A fresh temp directory, removed by removeTempDirs(). */
export function makeTempDir(prefix = 'pitr-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Every regular file under DIR (relative paths, sorted) with its bytes. */
export function readTree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.set(relative(dir, full), readFileSync(full));
    }
  };
  walk(dir);
  return new Map([...files.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** Every entry under DIR (directories too) with its mode, size and mtime: to prove nothing was touched. */
export function snapshotTree(dir: string): Record<string, string> {
  const snapshot: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const full = join(d, entry.name);
      const st = statSync(full);
      const content = entry.isDirectory() ? 'dir' : createHash('sha256').update(readFileSync(full)).digest('hex').slice(0, 16);
      snapshot[relative(dir, full)] = `${(st.mode & 0o7777).toString(8)} ${st.size} ${st.mtimeMs} ${content}`;
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(dir);
  return snapshot;
}
