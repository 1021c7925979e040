/**
 * Shared by the tests that execute the generated scripts without PostgreSQL: an example
 * plan compiled in memory and written to a temp directory, phase scripts replaced by
 * stubs (with SHA256SUMS updated to match), and a pseudo-terminal to run them on. No
 * test lives here.
 */
import { sha256 } from '../../src/plan/plan-json.js';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { loadTemplates } from '../../src/compile/render.js';
import { TEMPLATES_DIR } from '../../src/paths.js';
import { type CliResult, loadExamplePlan, makeTempDir } from './compiler-helpers.js';

/** out/<name>/ of an example plan, freshly compiled from templates/ into a temp directory. */
export function writeCompiledExample(name = 'realestateos-docker'): string {
  const dir = join(makeTempDir('pitr-bundle-'), name);
  const files = compilePlan(loadExamplePlan(name), loadTemplates(TEMPLATES_DIR), '0.0.0-test');
  for (const [path, content] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content, { mode: path.endsWith('.sh') ? 0o755 : 0o644 });
  }
  return dir;
}

/**
 * Replaces phases/PHASE.sh with a stub that sources lib/common.sh like a real phase,
 * runs BODY and marks itself done; then SHA256SUMS is recomputed so the scripts accept
 * the bundle.
 */
export function stubPhase(dir: string, phase: string, body = ''): void {
  const stub = [
    '#!/usr/bin/env bash',
    `# stub of ${phase}`,
    'set -Eeuo pipefail',
    'source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"',
    `phase_begin ${phase} "$@"`,
    body,
    `mark_done ${phase}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'phases', `${phase}.sh`), stub, { mode: 0o755 });
  resum(dir);
}

/** SHA256SUMS for the files it lists, as they are now. */
function resum(dir: string): void {
  const paths = readFileSync(join(dir, 'SHA256SUMS'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.replace(/^[0-9a-f]{64} {2}/, ''));
  const sums = paths.map((p) => `${sha256(readFileSync(join(dir, p), 'utf8'))}  ${p}`).join('\n');
  writeFileSync(join(dir, 'SHA256SUMS'), `${sums}\n`);
}

/**
 * Runs COMMAND (a shell command line) on a pseudo-terminal through util-linux script(1),
 * so stdin, stdout and stderr are a terminal, as for an operator. The pty joins stdout
 * and stderr and ends lines with CRLF; both are returned as the stdout of the result.
 */
export function onTerminal(command: string, env: NodeJS.ProcessEnv, cwd?: string): CliResult {
  const result = spawnSync('script', ['-qec', command, '/dev/null'], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout.replace(/\r\n/g, '\n'), stderr: result.stderr };
}
