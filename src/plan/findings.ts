/** A problem found in a plan, located in its source file. */
export interface Finding {
  file: string;
  /** 1-based line and column in the source YAML. */
  line: number;
  column: number;
  /** JSON pointer into the plan document, e.g. /target/time ("" for the root). */
  pointer: string;
  message: string;
}

/** Raised for plan problems; carries every finding, not only the first. */
export class PlanError extends Error {
  constructor(readonly findings: Finding[]) {
    super(findings.map((f) => `${f.file}:${f.line}:${f.column}: error: ${f.message}`).join('\n'));
    this.name = 'PlanError';
  }
}

/** Raised when the tool itself or its environment fails (exit code 2). */
export class InternalError extends Error {
  override name = 'InternalError';
}

/** Raised for bad command-line usage (exit code 2). */
export class UsageError extends Error {
  override name = 'UsageError';
}
