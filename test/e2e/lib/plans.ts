// The plan end-to-end files start from, and its compilation: a primary of one PostgreSQL
// major (15 unless told: Debian's own programs) under a pg_ctl service, its local
// archive, the scenario's time target, a docker compose runtime (the recording
// stand-in). A test overrides what it is about, block by block, so the plan it shows is
// the difference that matters. Scripts of the compiled bundle run through lib/bundle.ts.
//
// Other majors: postgres.binDir must hold every program the scripts run; binDirFor(major,
// root) (lib/majors.ts) builds that directory, and the test passes it as binDir.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCompile } from '../../../src/commands/compile.js';
import type { BaseBackupLayout } from './archive.js';
import type { DebianCluster } from './debian.js';
import { PG_BIN } from './exec.js';
import type { Major } from './majors.js';
import type { Primary, WalCompression } from './postgres.js';
import type { Scenario } from './scenario.js';

export type PlanDocument = Record<string, any>;

/** Where a plan runs: the harness root, the primary and its scenario, the side port. */
export type PlanSite = Pick<TestPlanOptions, 'root' | 'primary' | 'scenario' | 'sidePort'>;

export interface TestPlanOptions {
  /** postgres.version; 15 unless told. */
  major?: Major;
  name: string;
  description: string;
  root: string;
  primary: Primary;
  scenario: Scenario;
  layout: BaseBackupLayout;
  /** source.wal.compression; 'none' unless told. */
  walCompression?: WalCompression;
  /** recovery.port: a free port (freePort()). */
  sidePort: number;
  /** postgres.binDir: Debian's 15 directory for 15; for another major, binDirFor(major, root). */
  binDir?: string;
  /**
   * Blocks merged (one level deep) into the default plan; runtime, and any value that is
   * not an object, replaces the block whole. A key whose value is undefined is removed
   * (at either level): `{ postgres: { osUser: undefined } }`.
   */
  overrides?: PlanDocument;
}

/** The default plan: drill/run/rollback on the primary, compose service `api`. */
export function testPlan({ major = 15, name, description, root, primary, scenario, layout, walCompression = 'none', sidePort, binDir, overrides = {} }: TestPlanOptions): PlanDocument {
  if (binDir === undefined && major !== 15) throw new Error(`a PostgreSQL ${major} plan needs binDir: await binDirFor(${major}, root) (lib/majors.ts)`);
  const plan: PlanDocument = {
    version: 1,
    name,
    description,
    target: { time: scenario.target.written, inclusive: false },
    postgres: {
      version: major,
      database: scenario.db,
      dataDir: primary.dataDir,
      osUser: 'postgres',
      port: primary.port,
      host: primary.socketDir,
      binDir: binDir ?? PG_BIN,
      service: { kind: 'pg_ctl', logFile: primary.logFile },
    },
    source: { kind: 'local', path: primary.archiveDir, base: { prefix: 'base/', layout }, wal: { prefix: 'wal/', compression: walCompression } },
    recovery: { workDir: join(root, 'work'), port: sidePort, parallelism: 2, drainTimeoutSeconds: 20 },
    runtime: composeRuntime(root, ['api']),
    safetyBackup: { dir: join(root, 'safety'), pgDump: true },
    verify: { rowCounts: ['accounts', 'events'] },
  };
  for (const [block, value] of Object.entries(overrides)) {
    const current = plan[block];
    const mergeable = block !== 'runtime' && isBlock(value) && isBlock(current);
    if (value === undefined) delete plan[block];
    else if (!mergeable) plan[block] = value;
    else {
      const merged: PlanDocument = { ...current, ...value };
      for (const [key, v] of Object.entries(merged)) if (v === undefined) delete merged[key];
      plan[block] = merged;
    }
  }
  return plan;
}

const isBlock = (value: unknown): value is PlanDocument => typeof value === 'object' && value !== null && !Array.isArray(value);

/** runtime: docker compose (the stand-in) with <root>/compose.yml and these services. */
export function composeRuntime(root: string, services: string[]): PlanDocument {
  return { kind: 'docker', compose: { command: 'docker compose', file: join(root, 'compose.yml'), services } };
}

/** runtime: kubectl (the stand-in), context e2e, namespace app. */
export function k8sRuntime(deployments: string[]): PlanDocument {
  return { kind: 'k8s', k8s: { context: 'e2e', namespace: 'app', deployments } };
}

/** A source override for s3rver's bucket (merged into the default source: base and wal stay). */
export function s3Source(bucket: string, endpoint: string | undefined): PlanDocument {
  return { kind: 's3', path: undefined, bucket, region: 'us-east-1', endpoint };
}

/** A postgres override for a Debian cluster (primary: the cluster): its configFile, pg_ctlcluster. */
export function debianPostgres(cluster: DebianCluster): PlanDocument {
  return { configFile: cluster.configFile, service: { kind: 'pg_ctlcluster', cluster: cluster.cluster } };
}

/** verify.notAfterTarget on the scenario's events. */
export const NOT_AFTER_TARGET = [{ table: 'events', column: 'created_at' }];

/** verify with every check the scenario supports: row counts, notAfterTarget, its referential query. */
export const FULL_VERIFY = {
  rowCounts: ['accounts', 'events'],
  notAfterTarget: NOT_AFTER_TARGET,
  queries: [{ name: 'no event without its account', sql: 'SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = e.account_id)', expect: '0' }],
};

/** Writes PLAN to <root>/plans/<name>.yaml (for pitr resolve, inspect); returns the file. */
export function writeTestPlan(root: string, plan: PlanDocument): string {
  const planDir = join(root, 'plans');
  mkdirSync(planDir, { recursive: true });
  const planFile = join(planDir, `${String(plan.name)}.yaml`);
  writeFileSync(planFile, stringify(plan));
  return planFile;
}

/**
 * Writes PLAN to <root>/plans/<name>.yaml and compiles it into <root>/out (shellcheck on
 * unless told otherwise); returns the bundle directory. Throws with the compiler's
 * messages when it prints anything or fails.
 */
export function compileTestPlan(root: string, plan: PlanDocument, { shellcheck = true }: { shellcheck?: boolean } = {}): string {
  const planFile = writeTestPlan(root, plan);
  const stderr: string[] = [];
  const code = runCompile([planFile], { out: join(root, 'out'), check: false, shellcheck }, { stdout: () => {}, stderr: (t) => stderr.push(t) });
  if (code !== 0 || stderr.length > 0) throw new Error(`pitr compile ${planFile} exited ${code}: ${stderr.join('')}`);
  return join(root, 'out', String(plan.name));
}
