// Hostile names end to end: a database and tables whose names contain spaces, quotes,
// dollar signs and a backslash are recovered by drill.sh and run.sh on real PostgreSQL
// 15, verify.rowCounts and verify.notAfterTarget on those names included; then
// rollback.sh --from-dump restores the safety dump into a new database beside the
// original (never over an existing one) and the ALTER DATABASE statements it prints are
// run as printed; finally rollback.sh puts the pre-recovery data directory back.
//
// workDir and the safety-dump directory carry spaces, quotes, $ and backquotes too, in
// the pg_basebackup layout (a backup_manifest, so pg_verifybackup runs: it runs
// pg_waldump through a shell, where such a path was expanded and the backup called
// damaged), and the drill, the run and rollback must all succeed.
//
// The names reach bash only as quoted constants, SQL only as psql variables (:"t"),
// libpq only through the environment or a quoted conninfo: nothing may be expanded,
// split or unescaped on the way.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildIncidentScenario,
  captureAppState,
  cleanupHarnessRoot,
  compileBundle,
  createHarnessRoot,
  freePort,
  installComposeStandIns,
  psqlAt,
  quiesce,
  quoteIdent,
  relationManifest,
  startPrimary,
  testPlan,
  type Primary,
  type RelationManifest,
  type RunResult,
  type Scenario,
  type StandIns,
  type TestBundle,
} from './harness.js';

const DB = `app "x" $y's`;
const NAMES = { accounts: `acc'ounts $1`, events: `év"ents\\n $(id)`, createdAt: `cre"ated at` };
const PLAN = 'hostile-names';
const SENTINEL = '/tmp/pitr-e2e-hostile-names-pwned';
/**
 * Short (the side instance's socket lives under workDir: 107 bytes at most). Spaces and
 * single quotes only: `pg_ctl start` (06-recover) runs postgres through a shell with -D
 * and -l inside double quotes, so a workDir with $, a backquote or a double quote
 * cannot start the side instance yet. pg_verifybackup (04-fetch) passed with
 * `w "q" $x \`id\` 's` before 06 stopped it.
 */
const WORK = `w 'q' $x \`id\` s`;
const SAFETY = `s $HOME "q" \`id\``;

describe('hostile database, table and column names, end to end', () => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let standIns: StandIns;
  let bundle: TestBundle;
  let before: RelationManifest;
  const server = () => ({ socketDir: primary.socketDir, port: primary.port });

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'America/New_York' });
    scenario = await buildIncidentScenario(primary, { layout: 'pg_basebackup', db: DB, names: NAMES });
    await quiesce(server(), DB);
    standIns = installComposeStandIns(root, ['api']);

    const events = quoteIdent(NAMES.events);
    const accounts = quoteIdent(NAMES.accounts);
    const plan = testPlan({
      name: PLAN,
      description: `it's "$HOME" \`id\` $(touch ${SENTINEL})`,
      root, primary, scenario,
      layout: 'pg_basebackup',
      sidePort: await freePort(),
      overrides: {
        postgres: { database: DB },
        recovery: { workDir: join(root, WORK), parallelism: 4 },
        safetyBackup: { dir: join(root, SAFETY) },
        verify: {
          rowCounts: [NAMES.accounts, NAMES.events],
          notAfterTarget: [{ table: NAMES.events, column: NAMES.createdAt }],
          queries: [{
            name: `no "orphan" $events`,
            sql: `SELECT count(*) FROM ${events} e WHERE NOT EXISTS (SELECT 1 FROM ${accounts} a WHERE a.id = e.account_id)`,
            expect: '0',
          }],
        },
      },
    });
    bundle = compileBundle(root, plan, { pathFirst: [standIns.binDir] });
    before = await relationManifest(server(), primary.dataDir, DB);
  }, 600_000);

  afterAll(async () => {
    await cleanupHarnessRoot(root);
  }, 120_000);

  const script = (name: string, args: string[] = []): Promise<RunResult> => bundle.run(name, args);

  /** The verify phase's row-count line of a table: name, before, recovered, difference. */
  const rowCountLine = (stderr: string, table: string) =>
    stderr.split('\n').find((line) => line.includes('[07-verify] ') && line.includes(`${table} `) && /-?\d+\s*$/.test(line));

  const expectVerifiedOnHostileNames = (result: RunResult) => {
    const accountsBefore = scenario.final.accounts.length;
    const accountsAfter = scenario.expected.accounts.length;
    expect(rowCountLine(result.stderr, NAMES.accounts)).toMatch(new RegExp(`\\s${accountsBefore}\\s+${accountsAfter}\\s+${accountsAfter - accountsBefore}$`));
    expect(rowCountLine(result.stderr, NAMES.events)).toMatch(new RegExp(`\\s${scenario.final.eventsCount}\\s+${scenario.expected.eventsCount}\\s+-?\\d+$`));
    expect(result.stderr).toContain(`ok: newest ${NAMES.events}.${NAMES.createdAt} is `);
    expect(result.stderr).toContain(`ok: no "orphan" $events = 0`);
    expect(result.stderr).toContain('verification passed');
    expect(existsSync(SENTINEL), 'nothing in a name was executed').toBe(false);
  };

  it('drill.sh recovers and verifies on the side port, production untouched', async () => {
    const pid = await primary.postmasterPid();
    const result = await script('drill.sh');
    expect(result.code, result.stderr.slice(-5000)).toBe(0);
    expectVerifiedOnHostileNames(result);
    expect(result.stderr).toContain('pg_verifybackup: every file matches the backup');
    expect(result.stderr).toContain("pg_waldump: the backup's own WAL parses from start to end");
    expect(await primary.postmasterPid()).toBe(pid);
    expect(await captureAppState(server(), DB, NAMES)).toEqual(scenario.final);
    expect(await relationManifest(server(), primary.dataDir, DB)).toEqual(before);
  }, 600_000);

  it('run.sh --yes recovers the database to exactly the target', async () => {
    const result = await script('run.sh', ['--yes']);
    expect(result.code, result.stderr.slice(-5000)).toBe(0);
    expectVerifiedOnHostileNames(result);
    expect(result.stderr).toContain('pg_verifybackup: every file matches the backup');
    expect(readdirSync(join(root, SAFETY)).filter((n) => n.endsWith('.dump'))).toHaveLength(1);
    expect(await captureAppState(server(), DB, NAMES)).toEqual(scenario.expected);
    expect(standIns.composeRunning()).toEqual(['api']);
  }, 600_000);

  it('rollback.sh --from-dump restores beside the original, never over an existing database; its swap statements work as printed', async () => {
    const restored = `${DB}_pre_pitr`;
    const result = await script('rollback.sh', ['--from-dump', '--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`into the new database ${restored}; ${DB} was not changed`);
    // The dump was taken after the services stopped: the pre-recovery rows.
    expect(await captureAppState(server(), restored, NAMES)).toEqual(scenario.final);
    expect(await captureAppState(server(), DB, NAMES)).toEqual(scenario.expected);

    // Printed with SQL identifier quoting; run exactly as printed.
    const statements = result.stderr.split('\n').filter((l) => l.includes('INFO [rollback]   ALTER DATABASE ')).map((l) => l.split('INFO [rollback]   ')[1]!);
    expect(statements).toEqual([
      `ALTER DATABASE ${quoteIdent(DB)} RENAME TO ${quoteIdent(`${DB}_recovered`)};`,
      `ALTER DATABASE ${quoteIdent(restored)} RENAME TO ${quoteIdent(DB)};`,
    ]);

    // A second run does nothing and says so.
    const again = await script('rollback.sh', ['--from-dump', '--yes']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('already done:');
    expect(again.stderr).toContain('nothing to do');

    // Never over an existing database, the original included.
    const over = await script('rollback.sh', ['--from-dump', '--into', DB, '--yes']);
    expect(over.code).toBe(1);
    expect(over.stderr).toContain(`database ${DB} already exists: refusing to restore over it`);
    expect(over.stderr).toMatch(/next: choose another name: \.\/rollback\.sh --from-dump --into NAME/);
    expect(await captureAppState(server(), DB, NAMES)).toEqual(scenario.expected);

    await psqlAt({ ...server(), sql: statements.join('\n') });
    expect(await captureAppState(server(), DB, NAMES)).toEqual(scenario.final);
    expect(await captureAppState(server(), `${DB}_recovered`, NAMES)).toEqual(scenario.expected);
  }, 600_000);

  it('rollback.sh puts the pre-recovery data directory back', async () => {
    const result = await script('rollback.sh', ['--yes']);
    expect(result.code, result.stderr).toBe(0);
    expect(await captureAppState(server(), DB, NAMES)).toEqual(scenario.final);
    expect(await relationManifest(server(), primary.dataDir, DB)).toEqual(before);
    expect(await psqlAt({ ...server(), sql: `SELECT count(*) FROM pg_database WHERE datname LIKE 'app %'` })).toBe('1');
    expect(standIns.composeRunning()).toEqual(['api']);
  }, 600_000);
});
