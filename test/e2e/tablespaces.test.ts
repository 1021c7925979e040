// Tablespaces, both base backup layouts, on real PostgreSQL 15 (issue 12, items 1-2).
//
// The application's tables live in a tablespace outside the data directory
// (default_tablespace). A restored copy whose pg_tblspc link still names production's
// tablespace directory makes a side instance replay into production's live files (and
// a copy without the tablespace's files is "damaged" to pg_verifybackup). So:
//
// - drill.sh: every file of production's tablespace directory, and the application's
//   relation files in the data directory (through the link, after a CHECKPOINT), are
//   byte-identical before and after; the postmaster is the same process;
// - run.sh: production serves exactly the target's rows, from a table in the tablespace,
//   at the tablespace's own location (the recovered copy renamed into it); production's
//   directory kept as <location>.pre-pitr-<run id>;
// - pg_wal is a link to another directory ("disk"): the side instance's WAL goes to a copy,
//   finalize renames it into production's WAL path, rollback puts production's back;
// - rollback.sh: the very directories come back (file for file, checked while rollback
//   is held just before it starts production), and production serves its final rows.
//
//   tarball:        pg_basebackup -Fp, then a tar of the data directory (pg_tblspc/<oid>
//                   a link to production's directory), <id>/<oid>.tar.gz beside it
//   pg_basebackup:  -Ft -z: base.tar.gz (tablespace_map inside), <oid>.tar.gz, pg_wal.tar.gz

import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInspect } from '../../src/commands/inspect.js';
import {
  NOT_AFTER_TARGET,
  buildIncidentScenario,
  captureAppState,
  chownToPostgres,
  cleanupHarnessRoot,
  compileBundle,
  createHarnessRoot,
  dataDirManifest,
  freePort,
  installBlockers,
  quiesce,
  relationManifest,
  run,
  startPrimary,
  startServer,
  tablespacesOf,
  testPlan,
  type Blockers,
  type Primary,
  type Scenario,
  type TestBundle,
} from './harness.js';

const LAYOUTS = [
  { layout: 'tarball' as const, title: 'tarball of a plain (-Fp) backup, pg_tblspc links naming production' },
  { layout: 'pg_basebackup' as const, title: 'pg_basebackup -Ft: base.tar.gz with tablespace_map, <oid>.tar.gz' },
];

describe.each(LAYOUTS)('tablespaces: $title', ({ layout }) => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let blockers: Blockers;
  let bundle: TestBundle;
  let tsDir: string;
  let tsOid: string;
  let walDir: string;
  let walInode: number;
  const server = () => ({ socketDir: primary.socketDir, port: primary.port });

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'Asia/Tokyo' });
    // pg_wal on "another disk": a link, as initdb --waldir makes it.
    walDir = join(root, 'disks', 'wal', 'pg_wal');
    await primary.stop();
    mkdirSync(join(root, 'disks', 'wal'), { recursive: true });
    await run('mv', ['-T', join(primary.dataDir, 'pg_wal'), walDir]);
    await run('ln', ['-s', walDir, join(primary.dataDir, 'pg_wal')]);
    await startServer(primary);
    // Production's tablespace, outside the data directory; every new table goes there.
    tsDir = join(root, 'disks', 'fast', 'app_ts');
    mkdirSync(tsDir, { recursive: true });
    await chownToPostgres(join(root, 'disks'));
    await primary.psql(`CREATE TABLESPACE app_ts LOCATION '${tsDir}'`);
    await primary.psql("ALTER SYSTEM SET default_tablespace = 'app_ts'");
    await primary.psql('SELECT pg_reload_conf()');
    scenario = await buildIncidentScenario(primary, { layout, plainTarball: layout === 'tarball' });
    expect(await primary.psql("SELECT tablespace FROM pg_tables WHERE tablename = 'accounts'", scenario.db)).toBe('app_ts');
    tsOid = (await tablespacesOf(primary))[0]!.oid;
    await quiesce(server(), scenario.db);

    blockers = installBlockers(root);
    bundle = compileBundle(root, testPlan({
      name: 'tblspc',
      description: `tablespaces, ${layout} layout`,
      root, primary, scenario,
      layout,
      sidePort: await freePort(),
      overrides: {
        recovery: { parallelism: 4 },
        runtime: { kind: 'none' },
        verify: { notAfterTarget: NOT_AFTER_TARGET },
      },
    }), { pathFirst: [blockers.binDir] });
  }, 300_000);

  afterAll(async () => {
    blockers?.releaseAll();
    await cleanupHarnessRoot(root);
  }, 120_000);

  const script = (name: string, args: string[] = []) => bundle.run(name, args);
  const runId = () => readFileSync(join(bundle.dir, 'state', 'values', 'run-id'), 'utf8').trim();
  const linkOf = (dataDir: string) => readlinkSync(join(dataDir, 'pg_tblspc', tsOid));

  it('pitr inspect lists the live server\'s tablespace', async () => {
    let stdout = '';
    const code = await runInspect(join(root, 'plans', 'tblspc.yaml'), { format: 'text' }, { stdout: (t) => (stdout += t), stderr: (t) => (stdout += t) });
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(new RegExp(`^info\\s+tablespace app_ts\\s+oid ${tsOid} at ${tsDir}: recovered into a copy`, 'm'));
  }, 60_000);

  it('drill.sh recovers into copies of the data directory and the tablespace: production is byte-identical, postmaster not restarted', async () => {
    const pid = await primary.postmasterPid();
    const tsBefore = await dataDirManifest(tsDir);
    const relationsBefore = await relationManifest(server(), primary.dataDir, scenario.db);
    // The application's relations really are in the tablespace (their paths go through the link).
    expect(Object.keys(relationsBefore.files).filter((p) => p.startsWith(`pg_tblspc/${tsOid}/`)).length).toBeGreaterThan(3);
    expect(Object.keys(tsBefore).length).toBeGreaterThan(5);

    const result = await script('drill.sh');
    expect(result.code, result.stderr.slice(-5000)).toBe(0);
    expect(result.stderr).toContain(`tablespace app_ts (oid ${tsOid}) at ${tsDir}: restored into ${join(root, 'work', 'links', tsOid)}`);
    expect(result.stderr).toContain(`tablespace oid ${tsOid}: restored into ${join(root, 'work', 'links', tsOid)}`);
    expect(result.stderr).toMatch(/links: every path of the restored tree stays inside /);
    if (layout === 'pg_basebackup') expect(result.stderr).toContain("pg_verifybackup: every file matches the backup's manifest");
    expect(result.stderr).toContain('paused at the target');
    expect(result.stderr).toContain('verification passed');

    expect(await dataDirManifest(tsDir)).toEqual(tsBefore);
    expect(await relationManifest(server(), primary.dataDir, scenario.db)).toEqual(relationsBefore);
    expect(await primary.postmasterPid()).toBe(pid);
    expect(linkOf(primary.dataDir)).toBe(tsDir);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.final);
    // The drill removed its copies.
    expect(existsSync(join(root, 'work', 'data'))).toBe(false);
    expect(existsSync(join(root, 'work', 'links'))).toBe(false);
  }, 600_000);

  let tsBeforeRun: Record<string, string>;
  let tsInode: number;
  let dataInode: number;

  it('run.sh brings back exactly the target rows of a table in the tablespace, at the tablespace\'s own location', async () => {
    tsBeforeRun = await dataDirManifest(tsDir);
    tsInode = statSync(tsDir).ino;
    dataInode = statSync(primary.dataDir).ino;
    walInode = statSync(walDir).ino;
    const result = await script('run.sh', ['--yes']);
    expect(result.code, result.stderr.slice(-5000)).toBe(0);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);

    const id = runId();
    // Production's tablespace directory is kept aside untouched; the recovered one is in its place.
    const tsAside = `${tsDir}.pre-pitr-${id}`;
    expect(statSync(tsAside).ino).toBe(tsInode);
    expect(await dataDirManifest(tsAside)).toEqual(tsBeforeRun);
    expect(statSync(tsDir).ino).not.toBe(tsInode);
    expect(linkOf(primary.dataDir)).toBe(tsDir);
    expect(await primary.psql(`SELECT pg_tablespace_location(${tsOid})`)).toBe(tsDir);
    expect(await primary.psql("SELECT tablespace FROM pg_tables WHERE tablename = 'accounts'", scenario.db)).toBe('app_ts');
    // Every copy was renamed into production's place: none is left in workDir.
    expect(readdirSync(join(root, 'work', 'links'))).toEqual([]);
    // pg_wal is placed as production had it: a link to the WAL disk, the recovered WAL
    // renamed into that path, production's kept beside it.
    expect(readlinkSync(join(primary.dataDir, 'pg_wal'))).toBe(walDir);
    expect(statSync(`${walDir}.pre-pitr-${id}`).ino).toBe(walInode);
    expect(statSync(walDir).ino).not.toBe(walInode);
    expect(result.stderr).toContain(`pg_wal is a link to ${walDir}: the copy's WAL goes to ${join(root, 'work', 'links', 'pg_wal')}`);
    // The recovered server writes into its tablespace.
    await primary.psql("INSERT INTO accounts (id, name) VALUES (999999, 'after recovery')", scenario.db);
    await primary.psql('CHECKPOINT');
  }, 900_000);

  it('rollback.sh puts the pre-recovery data directory and tablespace directory back, file for file', async () => {
    const id = runId();
    const dataAside = `${primary.dataDir}.pre-pitr-${id}`;
    const tsAside = `${tsDir}.pre-pitr-${id}`;
    const dataSetAside = await dataDirManifest(dataAside);
    const tsSetAside = await dataDirManifest(tsAside);
    // Held just before it starts production: what it moved back, before a server runs in it.
    const gate = blockers.block('runuser', [`-D ${primary.dataDir} -l `, ' start ']);
    const rollback = script('rollback.sh', ['--yes']);
    await gate.reached();
    const dataMovedBack = await dataDirManifest(primary.dataDir);
    const tsMovedBack = await dataDirManifest(tsDir);
    gate.release();
    const result = await rollback;
    expect(result.code, result.stderr.slice(-5000)).toBe(0);
    expect(dataMovedBack).toEqual(dataSetAside);
    expect(tsMovedBack).toEqual(tsSetAside);
    expect(tsMovedBack).toEqual(tsBeforeRun);
    expect(statSync(tsDir).ino).toBe(tsInode);
    expect(statSync(primary.dataDir).ino).toBe(dataInode);
    expect(existsSync(tsAside)).toBe(false);
    expect(existsSync(join(`${tsDir}.recovered-${id}`, readdirSync(tsDir)[0]!))).toBe(true);
    expect(linkOf(primary.dataDir)).toBe(tsDir);
    expect(statSync(walDir).ino).toBe(walInode);
    expect(readlinkSync(join(primary.dataDir, 'pg_wal'))).toBe(walDir);
    expect(existsSync(`${walDir}.pre-pitr-${id}`)).toBe(false);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.final);
  }, 600_000);
});
