// Version matrix, PostgreSQL 15 (see lib/matrix.ts), with compressed base backups.
// Binaries: Debian's 15, all of them (binDir /usr/lib/postgresql/15/bin): a time target.
// The full suite (recovery.test.ts and the others) covers 15 with S3, both layouts and
// gzip; this file adds pg_basebackup 15's other compressions:
// - b1, b2: --compress=server-zstd, pg_basebackup layout (base.tar.zst, pg_wal.tar —
//   pg_basebackup 15 compresses streamed WAL with gzip only —, backup_manifest:
//   pg_verifybackup 15 checks it): drill, run and rollback;
// - v-lz4: client-side --compress=lz4, pg_basebackup layout (base.tar.lz4, pg_wal.tar);
// - v-zstd: client-side --compress=zstd, tarball layout (v-zstd.tar.zst);
//   each taken just before b1 and named by a plan (source.backup): drill.sh --keep, the
//   side instance paused at the target holds exactly the target's rows.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { LockFile } from '../../src/archive/lock.js';
import { runResolve } from '../../src/commands/resolve.js';
import { captureAppState } from './lib/scenario.js';
import { describeMajor } from './lib/matrix.js';

describeMajor(
  {
    major: 15,
    target: 'time',
    layout: 'pg_basebackup',
    backup: { compress: 'server-zstd' },
    backupsBeforeB1: [
      { id: 'v-lz4', layout: 'pg_basebackup', compress: 'lz4' },
      { id: 'v-zstd', layout: 'tarball', compress: 'zstd' },
    ],
    pgDump: true,
    title: 'time target, base backups compressed server-zstd, zstd and lz4',
  },
  (ctx) => {
    it.each([
      ['v-lz4', 'pg_basebackup', 'base.tar.lz4'],
      ['v-zstd', 'tarball', 'v-zstd.tar.zst'],
    ])('a backup named %s (%s layout, %s) recovers exactly the target on the side instance', async (id, layout, object) => {
      const bundle = ctx().compile(`matrix-15-${id}`, (plan) => {
        plan.source.backup = id;
        plan.source.base.layout = layout;
      });
      try {
        const result = await ctx().runScript(bundle, 'drill.sh', ['--keep']);
        expect(result.code, result.stderr.slice(-4000)).toBe(0);
        expect(result.stderr).toContain(`base backup: ${id} `);
        expect(result.stderr).toContain(`${object}: ${object.endsWith('lz4') ? 'lz4' : 'zstd'}, read with`);
        const side = { socketDir: join(ctx().root, `work-matrix-15-${id}`, 'run'), port: ctx().sidePort };
        expect(await captureAppState(side, ctx().scenario.db)).toEqual(ctx().scenario.expected);
      } finally {
        await ctx().runScript(bundle, 'drill.sh', ['--teardown']);
      }
    }, 900_000);

    it.each([
      ['auto', 'pg_basebackup', ['base/b1/base.tar.zst', 'base/b1/pg_wal.tar', 'base/b1/backup_manifest']],
      ['v-lz4', 'pg_basebackup', ['base/v-lz4/base.tar.lz4', 'base/v-lz4/pg_wal.tar', 'base/v-lz4/backup_manifest']],
      ['v-zstd', 'tarball', ['base/v-zstd.tar.zst', 'base/v-zstd/backup_label']],
    ])('pitr resolve (TypeScript) finds and pins the compressed backup %s (%s layout)', async (backup, layout, keys) => {
      const name = `resolve-${backup}`;
      ctx().compile(name, (plan) => {
        plan.source.backup = backup;
        plan.source.base.layout = layout;
      });
      const planFile = join(ctx().planDir, `${name}.yaml`);
      const errors: string[] = [];
      const code = await runResolve(planFile, { stdout: () => {}, stderr: (t: string) => errors.push(t) });
      expect(code, errors.join('')).toBe(0);
      const lock = JSON.parse(readFileSync(planFile.replace(/\.yaml$/, '.lock.json'), 'utf8')) as LockFile;
      expect(lock.backup.id).toBe(backup === 'auto' ? 'b1' : backup);
      expect(lock.objects.base.map((o) => o.key).sort()).toEqual([...keys].sort());
    }, 300_000);
  },
);
