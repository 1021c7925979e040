/**
 * The preamble every command that takes one plan shares: read the file, validate it and,
 * when it cannot be used, print why. The caller gets the normalized plan, or the exit
 * code to return (2 the file could not be read, 1 the plan has findings).
 */
import { readFileSync } from 'node:fs';
import { PlanError } from '../plan/findings.js';
import { formatFindings } from '../plan/format-findings.js';
import type { NormalizedPlan } from '../plan/normalized.js';
import { loadAndValidate } from '../plan/validate.js';

export type PlanRead = { ok: true; plan: NormalizedPlan; text: string } | { ok: false; exitCode: 1 | 2 };

export interface PlanReadIO {
  stderr(text: string): void;
}

/**
 * `consequence` ends the findings report ("nothing was written"); compile, which reads
 * several plans before saying it once, passes none.
 */
export function readPlan(planFile: string, io: PlanReadIO, consequence?: string): PlanRead {
  let text: string;
  try {
    text = readFileSync(planFile, 'utf8');
  } catch (error) {
    io.stderr(`${planFile}: error: cannot read the plan: ${(error as Error).message}\n`);
    return { ok: false, exitCode: 2 };
  }
  try {
    return { ok: true, plan: loadAndValidate(planFile, text), text };
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    io.stderr(`${formatFindings(error.findings, text)}\n${consequence === undefined ? '' : `${consequence}\n`}`);
    return { ok: false, exitCode: 1 };
  }
}
