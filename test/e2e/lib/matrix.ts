// The version matrix: one lean scenario per PostgreSQL major (test/e2e/matrix-<major>.test.ts
// each call describeMajor), so vitest runs the majors as separate files, two at a time.
//
// For each major: a primary of that major (its own initdb/pg_ctl/postgres, lib/majors.ts)
// archiving its WAL into a local directory, the incident scenario (lib/scenario.ts), a
// plan whose postgres.binDir is a directory of symlinks — the major's server programs and
// 15's client programs (binDirFor) — and then:
//   1. drill.sh leaves production untouched: checksums of production's relation files
//      (relationManifest after quiesce) are equal before and after, and the postmaster
//      is the same process;
//   2. run.sh --yes recovers exactly the target's rows;
//   3. rollback.sh brings back the pre-recovery rows (the primary's final state).
//
// Binaries and why (each major's test file repeats what it uses):
// - psql: 15's, which talks to every major (a mismatch is only a preflight warning);
// - base backups: 15's pg_basebackup for 13, 14 and 15; for 16+ (15's refuses them) the
//   low-level API (pg_backup_start/stop) and tar (lib/archive.ts);
// - pg_dump (safetyBackup.pgDump): 15's works against 13 and 14 only, so pgDump is off
//   for 16+ (preflight would rightly refuse a pg_dump of another major);
// - pg_waldump reads only its own major's WAL: off 15, targets that need no pg_waldump
//   (lsn, xid, restorePoint), since preflight runs pg_waldump for time targets only.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCompile } from '../../../src/commands/compile.js';
import { type BaseBackupLayout, type TakeBaseBackupOptions } from './archive.js';
import { cleanEnv, freePort, run, type RunResult } from './exec.js';
import { quiesce, relationManifest } from './manifest.js';
import { binDirFor, useMajor, type Major } from './majors.js';
import { appendPostgresConf, psqlAt, startPrimary, type Primary } from './postgres.js';
import { cleanupHarnessRoot, createHarnessRoot } from './root.js';
import { buildIncidentScenario, captureAppState, type Scenario } from './scenario.js';

export type MatrixTarget = 'time' | 'lsn' | 'xid' | 'restorePoint';

export interface MajorCase {
  major: Major;
  target: MatrixTarget;
  layout: BaseBackupLayout;
  backup?: Pick<TakeBaseBackupOptions, 'compress' | 'method'>;
  /** More backups taken before b1 (lib/scenario.ts), for tests that name them. */
  backupsBeforeB1?: TakeBaseBackupOptions[];
  /** Run the safety pg_dump (15's pg_dump works against 13, 14 and 15 only). */
  pgDump: boolean;
  /** What the test file says about its binaries, repeated in the describe title. */
  title: string;
  /** Settings production runs with from the start (in every base backup's postgresql.conf). */
  productionSettings?: (root: string) => Record<string, string>;
}

export interface MatrixContext {
  root: string;
  primary: Primary;
  scenario: Scenario;
  binDir: string;
  planDir: string;
  /** recovery.port of every plan compiled here (one side instance at a time). */
  sidePort: number;
  /** Compile `plan` (overrides merged into the case's plan) under `name`; returns the bundle dir. */
  compile(name: string, overrides?: (plan: Record<string, any>) => void): string;
  runScript(bundle: string, script: string, args?: string[]): Promise<RunResult>;
}

/** The plan's target block for the scenario's recorded target. */
function targetBlock(kind: MatrixTarget, scenario: Scenario): Record<string, unknown> {
  switch (kind) {
    case 'time':
      return { time: scenario.target.written, inclusive: false };
    case 'lsn':
      return { lsn: scenario.target.lsn, inclusive: false };
    case 'xid':
      return { xid: Number(scenario.target.xid), inclusive: false };
    case 'restorePoint':
      return { restorePoint: scenario.target.restorePoint };
  }
}

/** Everything under `root` (a harness root the caller cleans up, also when this fails). */
export async function setUpMajor(c: MajorCase, root: string): Promise<MatrixContext> {
  await useMajor(c.major);
  const primary = await startPrimary({ root, timezone: 'Asia/Tokyo', major: c.major });
  if (c.productionSettings) {
    await appendPostgresConf(join(primary.dataDir, 'postgresql.conf'), c.productionSettings(root));
    await psqlAt({ socketDir: primary.socketDir, port: primary.port, sql: 'SELECT pg_reload_conf()' });
  }
  const scenario = await buildIncidentScenario(primary, { layout: c.layout, backup: c.backup, backupsBeforeB1: c.backupsBeforeB1 });
  const binDir = await binDirFor(c.major, root);
  const planDir = join(root, 'plans');
  mkdirSync(planDir, { recursive: true });
  const sidePort = await freePort();
  const env = cleanEnv();
  const compile = (name: string, overrides?: (plan: Record<string, any>) => void): string => {
    const plan: Record<string, any> = {
      version: 1,
      name,
      description: `version matrix: PostgreSQL ${c.major}, ${c.title}`,
      target: targetBlock(c.target, scenario),
      postgres: {
        version: c.major,
        database: scenario.db,
        dataDir: primary.dataDir,
        osUser: 'postgres',
        port: primary.port,
        host: primary.socketDir,
        binDir,
        service: { kind: 'pg_ctl', logFile: primary.logFile },
      },
      source: {
        kind: 'local',
        path: primary.archiveDir,
        base: { prefix: 'base/', layout: c.layout },
        wal: { prefix: 'wal/', compression: 'none' },
        // xid and restorePoint targets cannot choose a backup by themselves.
        backup: c.target === 'xid' || c.target === 'restorePoint' ? scenario.expectedBackupId : 'auto',
      },
      recovery: { workDir: join(root, `work-${name}`), port: sidePort, parallelism: 2, drainTimeoutSeconds: 20 },
      runtime: { kind: 'none' },
      safetyBackup: { dir: join(root, `safety-${name}`), pgDump: c.pgDump },
      verify: { rowCounts: ['accounts', 'events'] },
    };
    overrides?.(plan);
    const planFile = join(planDir, `${name}.yaml`);
    writeFileSync(planFile, stringify(plan));
    const out = join(root, 'out');
    const stderr: string[] = [];
    // shellcheck gates the main bundle; variants of the same templates skip it (it takes
    // minutes of CPU on a loaded 2-core machine, and the same files were just checked).
    const code = runCompile([planFile], { out, check: false, shellcheck: name === `matrix-${c.major}` }, { stdout: () => {}, stderr: (t) => stderr.push(t) });
    if (code !== 0) throw new Error(`pitr compile ${planFile} exited ${code}: ${stderr.join('')}`);
    return join(out, name);
  };
  const runScript = (bundle: string, script: string, args: string[] = []) =>
    run('bash', [join(bundle, script), ...args], { env, allowFailure: true, timeoutMs: 600_000 });
  return { root, primary, scenario, binDir, planDir, sidePort, compile, runScript };
}

/** `extra`'s tests, then drill.sh, run.sh, rollback.sh on one major (see the top of this file). */
export function describeMajor(c: MajorCase, extra?: (ctx: () => MatrixContext) => void): void {
  describe(`PostgreSQL ${c.major}: ${c.title}`, () => {
    let ctx: MatrixContext;
    let root: string | undefined;
    let bundle: string;

    beforeAll(async () => {
      root = await createHarnessRoot();
      ctx = await setUpMajor(c, root);
      bundle = ctx.compile(`matrix-${c.major}`);
      // Bounds against a hang only: on a shared 2-core machine the setup alone can take minutes.
    }, 900_000);

    afterAll(async () => {
      await cleanupHarnessRoot(root);
    }, 120_000);

    const server = () => ({ socketDir: ctx.primary.socketDir, port: ctx.primary.port });

    // The major's own extra checks first: the drill, run and rollback below end with
    // production on a new timeline and back.
    extra?.(() => ctx);

    it('drill.sh recovers on the side port and leaves production byte for byte untouched', async () => {
      await quiesce(server(), ctx.scenario.db);
      const before = await relationManifest(server(), ctx.primary.dataDir, ctx.scenario.db);
      const pid = await ctx.primary.postmasterPid();
      const result = await ctx.runScript(bundle, 'drill.sh');
      expect(result.code, result.stderr.slice(-4000)).toBe(0);
      expect(result.stderr).toContain(`base backup: ${ctx.scenario.expectedBackupId} `);
      expect(result.stderr).toContain('paused at the target');
      expect(await ctx.primary.postmasterPid()).toBe(pid);
      expect(await relationManifest(server(), ctx.primary.dataDir, ctx.scenario.db)).toEqual(before);
      expect(await captureAppState(server(), ctx.scenario.db)).toEqual(ctx.scenario.final);
    }, 900_000);

    it('run.sh --yes brings production back to exactly the target', async () => {
      const result = await ctx.runScript(bundle, 'run.sh', ['--yes']);
      expect(result.code, result.stderr.slice(-4000)).toBe(0);
      expect(await captureAppState(server(), ctx.scenario.db)).toEqual(ctx.scenario.expected);
      expect(readdirSync(join(ctx.root, 'primary')).filter((n) => n.startsWith('data.pre-pitr-'))).toHaveLength(1);
    }, 900_000);

    it('rollback.sh brings back the rows production had before the recovery', async () => {
      const result = await ctx.runScript(bundle, 'rollback.sh', ['--yes']);
      expect(result.code, result.stderr.slice(-4000)).toBe(0);
      expect(await captureAppState(server(), ctx.scenario.db)).toEqual(ctx.scenario.final);
    }, 900_000);
  });
}
