/**
 * The model the templates render: the scripts' constants (script-constants.ts), the
 * flags that choose which code a template includes, the views (views.ts), and RUNBOOK.md's facts
 * (runbook-facts.ts). How the side instance is configured is in recovery-config.ts.
 */
import type { LockFile } from '../archive/lock.js';
import type { NormalizedPlan } from '../plan/normalized.js';
import { sidePaths } from './recovery-config.js';
import { buildRunbook, runbookPinnedFromLock, type RunbookFacts } from './runbook-facts.js';
import { scriptConstants, type Constant } from './script-constants.js';
import { constantsForViews, viewsOf, type Views } from './views.js';

// render.ts reads the Constant type from here.
export type { Constant };

/** Everything the templates print. Templates print plan values only through `q`. */
export interface ScriptModel {
  planName: string;
  description: string;
  planSha256: string;
  compilerVersion: string;
  constants: Constant[];
  /** Flags choose which code a template includes; they never print. */
  is: Record<string, boolean>;
  /** The view of each variant axis (views.ts): templates/views/<axis>/<kind>.sh renders as lib/<axis>.sh. */
  views: Views;
  /** For RUNBOOK.md only (markdown, not shell). */
  runbook: RunbookFacts;
}

export const PHASES = [
  { file: '00-preflight', title: 'Preflight: read-only checks of everything later phases rely on', destructive: false },
  { file: '01-assess', title: 'Assess: record row counts and server facts before anything changes', destructive: false },
  { file: '02-stop-services', title: 'Stop services: record what runs, stop the writers, wait for connections to drain', destructive: true },
  { file: '03-safety-backup', title: 'Safety backup: pg_dump of production, checksummed and verified', destructive: false },
  { file: '04-fetch', title: 'Fetch: base backup into workDir, WAL staged in parallel', destructive: false },
  { file: '05-configure', title: 'Configure: recovery settings appended for a side instance on its own port', destructive: false },
  { file: '06-recover', title: 'Recover: side instance replays WAL and pauses at the target', destructive: false },
  { file: '07-verify', title: 'Verify: row counts, nothing after the target, the plan\'s queries', destructive: false },
  { file: '08-finalize', title: 'Finalize: promote, swap data directories (old one kept aside), restart, notify', destructive: true },
] as const;

/**
 * Builds the model the templates render. Pure: same plan (and lock) → same model. A
 * lock (already checked against the plan, see readLockFor) pins the backup, the target
 * timeline and every object; its object list itself goes to lib/pinned.tsv.
 */
export function buildModel(
  plan: NormalizedPlan,
  planSha256: string,
  compilerVersion: string,
  lock: LockFile | null = null,
): ScriptModel {
  const pg = plan.postgres;
  const src = plan.source;
  const runtime = plan.runtime;
  const service = pg.service;
  const side = sidePaths(plan);
  const views = viewsOf(plan);
  const constants = constantsForViews(scriptConstants(plan, planSha256, lock, side), views);

  // Only what a shared template still branches on; a kind's own code is its view (views.ts).
  const is: Record<string, boolean> = {
    s3: src.kind === 's3',
    tarball: src.base.layout === 'tarball',
    pgBasebackup: src.base.layout === 'pg_basebackup',
    docker: runtime.kind === 'docker',
    k8s: runtime.kind === 'k8s',
    noRuntime: runtime.kind === 'none',
    debianConfig: pg.configFile !== null,
    pgDump: plan.safetyBackup.pgDump,
    slack: plan.notify.slack !== null,
    http: plan.verify.http.length > 0,
    // pg_get_wal_replay_pause_state() exists from 14; 13 has only pg_is_wal_replay_paused().
    pauseStateFunction: pg.version >= 14,
  };

  const runbook = buildRunbook(plan, side, lock === null ? null : runbookPinnedFromLock(lock), PHASES);

  return { planName: plan.name, description: plan.description, planSha256, compilerVersion, constants, is, views, runbook };
}
