// The plan most end-to-end files start from, and its compilation: PostgreSQL 15 on the
// test's primary (pg_ctl service), its local archive, the scenario's time target, a
// docker compose runtime (the recording stand-in). A test overrides what it is about,
// block by block, so the plan it shows is the difference that matters.
//
// Files written before this helper still build their plans by hand (a duplicate-code
// scan lists them); move them here as they are touched.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCompile } from '../../../src/commands/compile.js';
import type { BaseBackupLayout } from './archive.js';
import type { Primary } from './postgres.js';
import type { Scenario } from './scenario.js';

export type PlanDocument = Record<string, any>;

export interface Pg15PlanOptions {
  name: string;
  description: string;
  root: string;
  primary: Primary;
  scenario: Scenario;
  layout: BaseBackupLayout;
  /** recovery.port: a free port (freePort()). */
  sidePort: number;
  /** Blocks replaced or merged (one level deep) into the default plan. */
  overrides?: PlanDocument;
}

/** The default plan: drill/run/rollback on the primary, compose service `api`. */
export function pg15Plan({ name, description, root, primary, scenario, layout, sidePort, overrides = {} }: Pg15PlanOptions): PlanDocument {
  const plan: PlanDocument = {
    version: 1,
    name,
    description,
    target: { time: scenario.target.written, inclusive: false },
    postgres: {
      version: 15,
      database: scenario.db,
      dataDir: primary.dataDir,
      osUser: 'postgres',
      port: primary.port,
      host: primary.socketDir,
      binDir: '/usr/lib/postgresql/15/bin',
      service: { kind: 'pg_ctl', logFile: primary.logFile },
    },
    source: { kind: 'local', path: primary.archiveDir, base: { prefix: 'base/', layout }, wal: { prefix: 'wal/', compression: 'none' } },
    recovery: { workDir: join(root, 'work'), port: sidePort, parallelism: 2, drainTimeoutSeconds: 20 },
    runtime: { kind: 'docker', compose: { command: 'docker compose', file: join(root, 'compose.yml'), services: ['api'] } },
    safetyBackup: { dir: join(root, 'safety'), pgDump: true },
    verify: { rowCounts: ['accounts', 'events'] },
  };
  for (const [block, value] of Object.entries(overrides)) {
    const current = plan[block];
    const mergeable = typeof value === 'object' && value !== null && !Array.isArray(value) && typeof current === 'object' && current !== null;
    plan[block] = mergeable ? { ...current, ...value } : value;
  }
  return plan;
}

/**
 * Writes PLAN to <root>/plans/<name>.yaml and compiles it into <root>/out (shellcheck on
 * unless told otherwise); returns the bundle directory. Throws with the compiler's
 * messages when it prints anything or fails.
 */
export function compileTestPlan(root: string, plan: PlanDocument, { shellcheck = true }: { shellcheck?: boolean } = {}): string {
  const planDir = join(root, 'plans');
  mkdirSync(planDir, { recursive: true });
  const planFile = join(planDir, `${String(plan.name)}.yaml`);
  writeFileSync(planFile, stringify(plan));
  const stderr: string[] = [];
  const code = runCompile([planFile], { out: join(root, 'out'), check: false, shellcheck }, { stdout: () => {}, stderr: (t) => stderr.push(t) });
  if (code !== 0 || stderr.length > 0) throw new Error(`pitr compile ${planFile} exited ${code}: ${stderr.join('')}`);
  return join(root, 'out', String(plan.name));
}
