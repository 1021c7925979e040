import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { InternalError } from '../plan/findings.js';

export interface ShellcheckFinding {
  file: string;
  line: number;
  column: number;
  level: string;
  code: number;
  message: string;
}

const SHELLCHECK_ARGS = ['--external-sources', '--format=json1'];

/** What one shellcheck process did. */
interface ShellcheckRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Set when the process could not be started (ENOENT: not installed). */
  errorCode?: string;
}

/**
 * Runs shellcheck on the given files (paths relative to cwd) and returns its findings.
 *
 * shellcheck checks one file at a time on one core, and with --external-sources every
 * file re-reads the libraries it sources, so a bundle takes seconds. The files are split
 * into PROCESSES runs of consecutive files, run at the same time; each file's findings do
 * not depend on which other files share its run, and the runs' findings joined (see
 * below) are exactly those of one run over every file, in the same order. Fewer runs than that would leave a core
 * idle; more would each pay shellcheck's start-up again.
 */
export function runShellcheck(cwd: string, files: string[], processes = availableParallelism()): ShellcheckFinding[] {
  if (files.length === 0) return [];
  const runs = runAll(cwd, consecutiveBatches(files, processes));
  if (runs.some((run) => run.errorCode === 'ENOENT')) {
    throw new InternalError(
      'shellcheck is not installed; every generated script must pass it. Install it with ' +
        "'apt-get update && apt-get install -y shellcheck' (Debian), or pass --no-shellcheck on a machine without it.",
    );
  }
  const failed = runs.find((run) => run.status !== 0 && run.status !== 1);
  if (failed) {
    // Every run's stderr, in file order: what one run over all the files would have printed.
    const stderr = runs.map((run) => run.stderr).join('');
    throw new InternalError(`shellcheck failed to run (exit ${failed.status}): ${stderr.trim()}`);
  }
  // json1 lists the files last-checked first (each file's findings in order): the last
  // run's findings come first. test/unit/shellcheck-runs.test.ts holds shellcheck to this.
  return [...runs].reverse().flatMap((run) => {
    const parsed = JSON.parse(run.stdout || '{"comments":[]}') as { comments: ShellcheckFinding[] };
    return parsed.comments.map((c) => ({
      file: c.file, line: c.line, column: c.column, level: c.level, code: c.code, message: c.message,
    }));
  });
}

/** FILES in at most COUNT batches of consecutive files, in order, their sizes differing by at most one. */
export function consecutiveBatches(files: readonly string[], count: number): string[][] {
  const batches = Math.max(1, Math.min(count, files.length));
  const size = Math.floor(files.length / batches);
  const larger = files.length % batches;
  const out: string[][] = [];
  let start = 0;
  for (let i = 0; i < batches; i++) {
    const end = start + size + (i < larger ? 1 : 0);
    out.push(files.slice(start, end));
    start = end;
  }
  return out;
}

/**
 * Runs a child Node.js that starts one shellcheck per batch at once and prints their
 * outcomes as JSON. A child, because spawnSync waits for one process only and writing
 * a bundle (write.ts) is synchronous.
 */
const RUN_CONCURRENTLY = `
const { spawn } = require('node:child_process');
const [args, batches] = JSON.parse(process.argv[1]);
const runOne = (files) => new Promise((resolve) => {
  const child = spawn('shellcheck', [...args, ...files]);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text) => { stdout += text; });
  child.stderr.setEncoding('utf8').on('data', (text) => { stderr += text; });
  child.on('error', (error) => resolve({ status: null, stdout, stderr, errorCode: error.code }));
  child.on('close', (status) => resolve({ status, stdout, stderr }));
});
Promise.all(batches.map(runOne)).then((runs) => process.stdout.write(JSON.stringify(runs)));
`;

function runAll(cwd: string, batches: string[][]): ShellcheckRun[] {
  if (batches.length === 1) {
    const result = spawnSync('shellcheck', [...SHELLCHECK_ARGS, ...(batches[0] ?? [])], { cwd, encoding: 'utf8' });
    const errorCode = (result.error as NodeJS.ErrnoException | undefined)?.code;
    return [{ status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', ...(errorCode ? { errorCode } : {}) }];
  }
  const result = spawnSync(process.execPath, ['-e', RUN_CONCURRENTLY, JSON.stringify([SHELLCHECK_ARGS, batches])], {
    cwd,
    encoding: 'utf8',
    // Every run's JSON findings pass through here at once.
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) {
    throw new InternalError(`shellcheck could not be run (node exit ${result.status}): ${(result.stderr ?? String(result.error)).trim()}`);
  }
  return JSON.parse(result.stdout) as ShellcheckRun[];
}
