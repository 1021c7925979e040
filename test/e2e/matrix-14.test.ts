// Version matrix, PostgreSQL 14 (see lib/matrix.ts). Binaries: 14's initdb, pg_ctl and
// postgres from the devDependency pg14; 15's psql, pg_basebackup (tarball layout) and
// pg_dump/pg_restore (safetyBackup.pgDump on), which all work against 14. 15's
// pg_waldump cannot read 14's WAL, so the target is a restore point (named backup b1).
//
// Production keeps its statistics files in an absolute stats_temp_directory, as Debian
// configures every cluster up to 14 (/var/run/postgresql/14-main.pg_stat_tmp): the base
// backup's postgresql.conf names it, and a side instance that inherited it would write
// its statistics into production's directory.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { psqlAt, quiesce, relationManifest } from './harness.js';
import { describeMajor } from './lib/matrix.js';

const statsDir = (root: string) => join(root, 'run', '14-main.pg_stat_tmp');

describeMajor({
  major: 14,
  target: 'restorePoint',
  layout: 'tarball',
  pgDump: true,
  title: "restore point target, 15's pg_basebackup and pg_dump, an absolute stats_temp_directory",
  productionSettings: (root) => {
    mkdirSync(statsDir(root), { recursive: true });
    execFileSync('chown', ['-R', 'postgres:postgres', join(root, 'run')]);
    return { stats_temp_directory: statsDir(root) };
  },
}, (ctx) => {
  it('isolation: the drill\'s side instance keeps statistics, name and memory to itself (stats_temp_directory, cluster_name, huge_pages, archive_mode)', async () => {
    const c = ctx();
    const production = { socketDir: c.primary.socketDir, port: c.primary.port };
    expect(await psqlAt({ ...production, sql: 'SHOW stats_temp_directory' })).toBe(statsDir(c.root));
    const bundle = c.compile('matrix-14-iso');
    await quiesce(production, c.scenario.db);
    const relations = await relationManifest(production, c.primary.dataDir, c.scenario.db);
    const pid = await c.primary.postmasterPid();
    const drill = await c.runScript(bundle, 'drill.sh', ['--keep']);
    expect(drill.code, drill.stderr.slice(-4000)).toBe(0);
    expect(drill.stderr).toContain('paused at the target');
    const side = { socketDir: join(c.root, 'work-matrix-14-iso', 'run'), port: c.sidePort };
    expect(await psqlAt({ ...side, sql: 'SHOW stats_temp_directory' })).toBe('pg_stat_tmp');
    expect(await psqlAt({ ...side, sql: 'SHOW cluster_name' })).toBe('pitr-side-matrix-14-iso');
    expect(await psqlAt({ ...side, sql: 'SHOW huge_pages' })).toBe('off');
    expect(await psqlAt({ ...side, sql: 'SHOW archive_mode' })).toBe('off');
    const teardown = await c.runScript(bundle, 'drill.sh', ['--teardown']);
    expect(teardown.code, teardown.stderr.slice(-4000)).toBe(0);
    expect(await psqlAt({ ...production, sql: 'SHOW stats_temp_directory' })).toBe(statsDir(c.root));
    // Production itself: the same postmaster, every relation file byte-identical.
    expect(await c.primary.postmasterPid()).toBe(pid);
    expect(await relationManifest(production, c.primary.dataDir, c.scenario.db)).toEqual(relations);
  }, 900_000);
});
