// The harness root: one fresh temporary directory per test file that holds every
// server, archive, s3rver store and stand-in state, so cleanup is "stop what runs
// under it, then delete it".

import { mkdtemp, chmod, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopServersUnder } from './postgres.js';
import { stopAllS3rvers } from './s3.js';

/**
 * A fresh directory under /tmp with mode 0755, so the postgres OS user can traverse
 * it to reach the directories we give it (mkdtemp alone creates 0700 for root).
 * The path is short on purpose: unix socket paths are limited to ~107 bytes.
 */
export async function createHarnessRoot(): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new Error('the e2e harness must run as root: it runs PostgreSQL as the postgres OS user through runuser');
  }
  const root = await mkdtemp(join(tmpdir(), 'pitr-e2e-'));
  await chmod(root, 0o755);
  return root;
}

/** Set PITR_E2E_KEEP=1 to keep harness roots for a post-mortem. */
export const keepHarnessRoots = (): boolean => process.env.PITR_E2E_KEEP === '1';

/**
 * Stop every PostgreSQL server whose data directory lies under `root` (including
 * side instances started by generated scripts) and every s3rver we started, then
 * delete `root` unless PITR_E2E_KEEP=1. Safe to call twice and after failures.
 */
export async function cleanupHarnessRoot(root: string | undefined): Promise<void> {
  await stopAllS3rvers();
  if (!root) return;
  await stopServersUnder(root);
  if (keepHarnessRoots()) {
    console.log(`PITR_E2E_KEEP=1: keeping ${root}`);
    return;
  }
  await rm(root, { recursive: true, force: true });
}
