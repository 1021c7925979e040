import { spawnSync } from 'node:child_process';
import { InternalError } from '../plan/findings.js';

export interface ShellcheckFinding {
  file: string;
  line: number;
  column: number;
  level: string;
  code: number;
  message: string;
}

/** Runs shellcheck on the given files (paths relative to cwd) and returns its findings. */
export function runShellcheck(cwd: string, files: string[]): ShellcheckFinding[] {
  if (files.length === 0) return [];
  const result = spawnSync('shellcheck', ['--external-sources', '--format=json1', ...files], { cwd, encoding: 'utf8' });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new InternalError(
      'shellcheck is not installed; every generated script must pass it. Install it with ' +
        "'apt-get update && apt-get install -y shellcheck' (Debian), or pass --no-shellcheck on a machine without it.",
    );
  }
  if (result.status !== 0 && result.status !== 1) {
    throw new InternalError(`shellcheck failed to run (exit ${result.status}): ${result.stderr.trim()}`);
  }
  const parsed = JSON.parse(result.stdout || '{"comments":[]}') as { comments: ShellcheckFinding[] };
  return parsed.comments.map((c) => ({
    file: c.file, line: c.line, column: c.column, level: c.level, code: c.code, message: c.message,
  }));
}
