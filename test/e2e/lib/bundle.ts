// A compiled bundle's scripts, run as the operator runs them: `bash <bundle>/<script>`
// with a clean environment (no PG*/AWS_* of ours), the stand-ins and blockers first on
// PATH, s3rver's credentials when the archive is in S3; never rejecting on a non-zero
// exit (tests assert on the code), killed after 10 minutes (a hang, not a slow run).

import { join } from 'node:path';
import { cleanEnv, run, type RunResult } from './exec.js';
import { compileTestPlan, type PlanDocument } from './plans.js';
import { s3Env } from './s3.js';

export interface ScriptEnvOptions {
  /** Directories put first on PATH, in this order (stand-ins, blockers, a broken program). */
  pathFirst?: string[];
  /** Keep our PATH after them (default); false: PATH is pathFirst alone. */
  systemPath?: boolean;
  /** s3rver's credentials for the aws CLI (s3Env()). */
  s3?: boolean;
  /** More variables for the scripts; '' removes one. */
  env?: Record<string, string>;
}

/** The environment the bundle's scripts run with. */
export function scriptEnv({ pathFirst = [], systemPath = true, s3 = false, env: extra = {} }: ScriptEnvOptions = {}): NodeJS.ProcessEnv {
  const path = systemPath ? [...pathFirst, process.env.PATH ?? ''] : pathFirst;
  const env = cleanEnv({ PATH: path.join(':'), ...(s3 ? s3Env() : {}) });
  for (const [key, value] of Object.entries(extra)) {
    if (value === '') delete env[key];
    else env[key] = value;
  }
  return env;
}

export interface ScriptRunOptions {
  /** Variables added for this run only. */
  env?: NodeJS.ProcessEnv;
  /** Default 600 s. */
  timeoutMs?: number;
}

export interface TestBundle {
  /** The bundle directory (<root>/out/<plan name>). */
  dir: string;
  /** What its scripts run with (for startDetached and the like). */
  env: NodeJS.ProcessEnv;
  /** `bash <dir>/<script> ARGS...`; resolves with the result whatever the exit code. */
  run(script: string, args?: string[], options?: ScriptRunOptions): Promise<RunResult>;
}

/** A runner for the scripts of the bundle in DIR. */
export function bundleAt(dir: string, options: ScriptEnvOptions = {}): TestBundle {
  const env = scriptEnv(options);
  return {
    dir,
    env,
    run: (script, args = [], { env: extra = {}, timeoutMs = 600_000 } = {}) =>
      run('bash', [join(dir, script), ...args], { env: { ...env, ...extra }, allowFailure: true, timeoutMs }),
  };
}

/** compileTestPlan (shellcheck on unless told otherwise), then a runner for its scripts. */
export function compileBundle(root: string, plan: PlanDocument, { shellcheck = true, ...options }: ScriptEnvOptions & { shellcheck?: boolean } = {}): TestBundle {
  return bundleAt(compileTestPlan(root, plan, { shellcheck }), options);
}
