// Builds dist/ once before any test file runs: tests that spawn bin/pitr.js must run
// the code under test, not a stale build, and parallel builds would race.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  // npm run build: tsc, then the precompiled templates and schema check the CLI loads.
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: join(import.meta.dirname, '..'), stdio: 'inherit' });
}
