// Builds dist/ once before any test file runs: tests that spawn bin/pitr.js must run
// the code under test, not a stale build, and parallel builds would race.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: join(import.meta.dirname, '..'), stdio: 'inherit' });
}
