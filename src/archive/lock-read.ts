/**
 * The lock file beside a plan, read for `pitr compile` (and `pitr bundle`): null when
 * there is none; otherwise the lock, only if it belongs to this plan and its objects can
 * be handed to the scripts — else LockRejected naming the file and what differs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { planSha256 } from '../plan/plan-json.js';
import type { NormalizedPlan } from '../plan/normalized.js';
import { lockPathFor, parseLockFile, type LockFile } from './lock.js';
import { LockRejected, lockDisagreements, lockObjectProblems } from './lock-use.js';

export function readLockFor(planFile: string, plan: NormalizedPlan): LockFile | null {
  const lockPath = lockPathFor(planFile);
  if (!existsSync(lockPath)) return null;
  let lock: LockFile;
  try {
    lock = parseLockFile(readFileSync(lockPath, 'utf8'));
  } catch (error) {
    throw new LockRejected(lockPath, [`cannot be read as a lock file: ${(error as Error).message}`]);
  }
  const disagreements = lockDisagreements(lock, plan, planSha256(plan));
  if (disagreements.length > 0) throw new LockRejected(lockPath, disagreements);
  const problems = lockObjectProblems(lock);
  if (problems.length > 0) throw new LockRejected(lockPath, problems);
  return lock;
}

/** The compile error for a rejected lock: the file, every reason, and the fix. */
export function formatLockRejected(error: LockRejected, planFile: string): string {
  const reasons = error.reasons.map((r) => `  - ${r}\n`).join('');
  return `${error.lockPath}: error: the lock file does not fit ${planFile}:\n${reasons}  fix: run pitr resolve ${planFile} again (or delete ${error.lockPath} to compile without pinning)\n`;
}
