import type { LockFile } from '../archive/lock.js';
import { pinnedTsv } from '../archive/lock-use.js';
import type { NormalizedPlan } from '../plan/normalized.js';
import { buildModel } from './model.js';
import { planJsonText, sha256 } from '../plan/plan-json.js';
import { renderBundle, type TemplateSet } from './render.js';

/** Where the scripts find the objects a lock pins (beside lib/archive.sh, which reads it). */
export const PINNED_TSV_PATH = 'lib/pinned.tsv';

/**
 * Normalized plan (and its lock, already checked against it: see readLockFor) → every
 * output file. Pure and deterministic. Without a lock the scripts choose the backup and
 * the WAL at run time; with one they use exactly the pinned objects (lib/pinned.tsv)
 * and RUNBOOK.md shows them.
 */
export function compilePlan(
  plan: NormalizedPlan,
  templates: TemplateSet,
  compilerVersion: string,
  lock: LockFile | null = null,
): Map<string, string> {
  const planJson = planJsonText(plan);
  const model = buildModel(plan, sha256(planJson), compilerVersion, lock);
  const dataFiles = new Map(lock === null ? [] : [[PINNED_TSV_PATH, pinnedTsv(lock)]]);
  return renderBundle(model, templates, planJson, dataFiles);
}
