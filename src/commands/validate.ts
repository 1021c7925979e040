/**
 * `pitr validate PLAN...`: read each plan, validate it, report. I/O comes in through
 * `io` so the command is testable and never exits the process itself; the CLI maps
 * the returned code to process.exitCode.
 *
 * Exit codes: 0 every plan is valid, 1 some plan has findings, 2 a file could not be
 * read or the tool failed.
 */
import { findingsToJson, formatFindings } from '../plan/format-findings.js';
import type { FindingJson } from '../plan/format-findings.js';
import { validatePlanText } from '../plan/validate.js';

export interface ValidateOptions {
  format: 'text' | 'json';
}

export interface ValidateIO {
  readFile(file: string): string | Promise<string>;
  /** Write text as is (callers include the newlines), like process.stdout.write. */
  stdout(text: string): void;
  stderr(text: string): void;
}

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_FAILURE = 2;

/** One file's result in `--format json` output. */
export interface FileReport {
  file: string;
  ok: boolean;
  findings: FindingJson[];
  /** Why the file could not be checked at all (unreadable, internal error). */
  error?: string;
}

type FileOutcome =
  | { kind: 'checked'; file: string; text: string; findings: ReturnType<typeof validatePlanText>['findings'] }
  | { kind: 'failed'; file: string; error: string };

export async function runValidate(files: string[], opts: ValidateOptions, io: ValidateIO): Promise<number> {
  const outcomes: FileOutcome[] = [];
  for (const file of files) outcomes.push(await checkFile(file, io));

  if (opts.format === 'json') {
    io.stdout(`${JSON.stringify({ files: outcomes.map(toFileReport) }, null, 2)}\n`);
  } else {
    for (const outcome of outcomes) writeTextReport(outcome, io);
  }
  return exitCodeFor(outcomes);
}

async function checkFile(file: string, io: ValidateIO): Promise<FileOutcome> {
  let text: string;
  try {
    text = await io.readFile(file);
  } catch (error) {
    return { kind: 'failed', file, error: `cannot read file: ${errorMessage(error)}` };
  }
  try {
    return { kind: 'checked', file, text, findings: validatePlanText(file, text).findings };
  } catch (error) {
    // A bug in the validator must not look like a finding in the plan.
    return { kind: 'failed', file, error: `internal error while validating: ${errorMessage(error)}` };
  }
}

function writeTextReport(outcome: FileOutcome, io: ValidateIO): void {
  if (outcome.kind === 'failed') {
    io.stderr(`${outcome.file}: error: ${outcome.error}\n`);
  } else if (outcome.findings.length === 0) {
    io.stdout(`${outcome.file}: ok\n`);
  } else {
    io.stderr(`${formatFindings(outcome.findings, outcome.text)}\n`);
  }
}

function toFileReport(outcome: FileOutcome): FileReport {
  if (outcome.kind === 'failed') return { file: outcome.file, ok: false, findings: [], error: outcome.error };
  return { file: outcome.file, ok: outcome.findings.length === 0, findings: findingsToJson(outcome.findings) };
}

function exitCodeFor(outcomes: FileOutcome[]): number {
  if (outcomes.some((outcome) => outcome.kind === 'failed')) return EXIT_FAILURE;
  if (outcomes.some((outcome) => outcome.kind === 'checked' && outcome.findings.length > 0)) return EXIT_FINDINGS;
  return EXIT_OK;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
