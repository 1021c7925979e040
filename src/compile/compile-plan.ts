import type { NormalizedPlan } from '../plan/normalized.js';
import { buildModel, type RunbookPinned } from './model.js';
import { renderBundle, sha256, type TemplateSet } from './render.js';

/** plan.json: the normalized plan, stable key order, trailing newline. */
export function planJsonText(plan: NormalizedPlan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

/**
 * Normalized plan → every output file. Pure and deterministic. `pinned` (from a lock
 * file, see runbookPinnedFromLock) only adds real positions and times to RUNBOOK.md.
 */
export function compilePlan(
  plan: NormalizedPlan,
  templates: TemplateSet,
  compilerVersion: string,
  pinned: RunbookPinned | null = null,
): Map<string, string> {
  const planJson = planJsonText(plan);
  const model = buildModel(plan, sha256(planJson), compilerVersion, pinned);
  return renderBundle(model, templates, planJson);
}
