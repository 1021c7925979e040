/**
 * plan.json and its fingerprint. The compiled bundle carries the text, the scripts
 * carry its sha256, and a lock file (pitr resolve) records the same sha256 to prove it
 * was made for this plan as it is now: all three read it from here.
 */
import { createHash } from 'node:crypto';
import type { NormalizedPlan } from './normalized.js';

/** plan.json: the normalized plan, stable key order, trailing newline. */
export function planJsonText(plan: NormalizedPlan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The sha256 of plan.json. */
export function planSha256(plan: NormalizedPlan): string {
  return sha256(planJsonText(plan));
}
