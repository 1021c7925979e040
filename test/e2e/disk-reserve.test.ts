// The disk reserve (issue 12, item 3) on real PostgreSQL 15: production's data directory
// and workDir share a small filesystem (a loop-mounted ext4 image), as finalize's rename
// needs. The chosen base backup is much larger than the live cluster (a big table was
// dropped after it), so preflight's estimate passes and the extraction would fill the
// filesystem. Fetch must stop at the reserve, remove what it wrote and say so, while
// production keeps accepting writes and checkpoints throughout.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildIncidentScenario,
  cleanupHarnessRoot,
  compileBundle,
  createHarnessRoot,
  freePort,
  run,
  sleep,
  startPrimary,
  stopServersUnder,
  testPlan,
  type Primary,
  type Scenario,
  type TestBundle,
} from './harness.js';

const MiB = 1024 * 1024;
const free = (path: string) => {
  const s = statfsSync(path);
  return Number(s.bavail) * Number(s.bsize);
};

describe('disk reserve: fetch on the data directory\'s small filesystem stops at the reserve', () => {
  let root: string;
  let mount: string;
  let mounted = false;
  let primary: Primary;
  let scenario: Scenario;
  let bundle: TestBundle;
  let reserve: number;

  beforeAll(async () => {
    root = await createHarnessRoot();
    // 700 MiB ext4 image, mounted where the primary's data directory and workDir live.
    const image = join(root, 'small.img');
    mount = join(root, 'primary');
    mkdirSync(mount);
    await run('truncate', ['-s', '700M', image]);
    await run('mkfs.ext4', ['-q', '-F', image]);
    await run('mount', ['-o', 'loop', image, mount]);
    mounted = true;
    await run('chmod', ['0755', mount]);
    primary = await startPrimary({ root, timezone: 'Asia/Tokyo' });
    await primary.psql("ALTER SYSTEM SET max_wal_size = '64MB'");
    await primary.psql("ALTER SYSTEM SET min_wal_size = '32MB'");
    await primary.psql('SELECT pg_reload_conf()');
    // ~250 MiB of rows in every base backup (gzip shrinks them in the archive, off this filesystem).
    await primary.psql('CREATE DATABASE app');
    await primary.psql("CREATE TABLE ballast AS SELECT g, repeat(md5(g::text), 6) AS filler FROM generate_series(1, 1000000) g", 'app');
    scenario = await buildIncidentScenario(primary, { layout: 'tarball', db: 'app_data' });
    await primary.psql('DROP TABLE ballast', 'app');
    await primary.psql('CHECKPOINT');
    await primary.switchWal();
    await primary.psql('CHECKPOINT');

    // A reserve preflight's estimate (live cluster + the side's pg_wal) leaves room for,
    // which the ~290 MiB extraction crosses.
    const cluster = Number(await primary.psql('SELECT sum(pg_database_size(oid))::bigint FROM pg_database'));
    reserve = Math.floor((free(mount) - cluster - 64 * MiB) / MiB) - 60;
    expect(reserve * MiB).toBeGreaterThan(free(mount) - 280 * MiB);

    bundle = compileBundle(root, testPlan({
      name: 'disk',
      description: 'fetch that would fill the data directory\'s filesystem',
      root, primary, scenario,
      layout: 'tarball',
      sidePort: await freePort(),
      overrides: {
        recovery: { workDir: join(mount, 'work'), parallelism: 4, diskReserve: `${reserve}MiB` },
        runtime: { kind: 'none' },
        // The safety dump's directory (<root>/safety) is on another filesystem: preflight counts the dump there.
        verify: { rowCounts: ['accounts'] },
      },
    }));
  }, 600_000);

  afterAll(async () => {
    if (root) await stopServersUnder(root);
    if (mounted) execFileSync('umount', [mount]);
    await cleanupHarnessRoot(root);
  }, 120_000);

  it('drill.sh: preflight passes, fetch stops at the reserve and removes what it wrote; production writes and checkpoints throughout', async () => {
    await primary.psql('CREATE TABLE writes_during (id serial PRIMARY KEY, at timestamptz DEFAULT now())', scenario.db);
    const pid = await primary.postmasterPid();
    let running = true;
    let minFree = free(mount);
    const errors: string[] = [];
    let writes = 0;
    let checkpoints = 0;
    const writer = (async () => {
      while (running) {
        try {
          await primary.psql('INSERT INTO writes_during DEFAULT VALUES', scenario.db);
          writes += 1;
          if (writes % 5 === 0) {
            await primary.psql('CHECKPOINT');
            checkpoints += 1;
          }
        } catch (error) {
          errors.push(String(error));
        }
        minFree = Math.min(minFree, free(mount));
        await sleep(100);
      }
    })();
    const result = await bundle.run('drill.sh');
    running = false;
    await writer;

    expect(result.code, result.stderr.slice(-5000)).toBe(1);
    expect(result.stderr).toContain('preflight passed');
    expect(result.stderr).toMatch(new RegExp(`disk: safety dump \\(${join(root, 'safety')}\\): about [0-9.]+ [KMG]iB to write .*production keeps its reserve`));
    expect(result.stderr).toMatch(new RegExp(`disk: workDir \\(${join(mount, 'work')}\\): about .* to write .* production keeps its reserve of ${reserve}\\.0 MiB \\(${reserve}MiB\\)`));
    expect(result.stderr).toMatch(new RegExp(`disk: workDir \\(${join(mount, 'work')}\\) fell to .* free, below the ${reserve}\\.0 MiB reserved for production`));
    expect(result.stderr).toContain('04-fetch stopped at the disk reserve and removed what it wrote');
    expect(result.stderr).toContain('drill failed in 04-fetch');
    // Everything fetch wrote is gone.
    for (const leftover of ['data', 'wal-staging', 'links', 'bin', 'backup_manifest']) expect(existsSync(join(mount, 'work', leftover)), leftover).toBe(false);
    expect(free(mount)).toBeGreaterThan(reserve * MiB);

    // Production never ran out of space: every write and checkpoint succeeded, none failed.
    expect(errors).toEqual([]);
    expect(writes).toBeGreaterThan(5);
    expect(checkpoints).toBeGreaterThan(0);
    expect(minFree).toBeGreaterThan(0);
    await primary.psql('INSERT INTO writes_during DEFAULT VALUES', scenario.db);
    await primary.psql('CHECKPOINT');
    expect(await primary.postmasterPid()).toBe(pid);
    expect(readFileSync(primary.logFile, 'utf8')).not.toMatch(/No space left on device|could not write/);
    console.log(`disk reserve ${reserve} MiB; lowest free space seen during the drill ${(minFree / MiB).toFixed(1)} MiB; ${writes} writes, ${checkpoints} checkpoints`);
  }, 600_000);
});
