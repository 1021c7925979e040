// Version matrix, PostgreSQL 13 (see lib/matrix.ts). Binaries: 13's initdb, pg_ctl and
// postgres from the devDependency pg13; 15's psql, pg_basebackup (tarball layout) and
// pg_dump/pg_restore (safetyBackup.pgDump on: 15's pg_dump reads 13; preflight warns
// that it is newer than the server), all through the plan's binDir of symlinks. 15's
// pg_waldump cannot read 13's WAL, so the recovery uses an lsn target; and a time
// target, which needs pg_waldump, must be refused by preflight naming the version
// mismatch (never "no transaction").
import { expect, it } from 'vitest';
import { describeMajor } from './lib/matrix.js';

describeMajor(
  { major: 13, target: 'lsn', layout: 'tarball', pgDump: true, title: "lsn target, 15's pg_basebackup and pg_dump" },
  (ctx) => {
    it("a time target with 15's pg_waldump in binDir fails preflight naming both versions, not 'no transaction'", async () => {
      const bundle = ctx().compile('matrix-13-time', (plan) => {
        plan.target = { time: ctx().scenario.target.written, inclusive: false };
      });
      const result = await ctx().runScript(bundle, 'run.sh', ['--yes', '--only', '00-preflight']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`FAIL \\[00-preflight\\] pg_waldump \\(${ctx().binDir}/pg_waldump\\) is PostgreSQL 15, the server is PostgreSQL 13`));
      expect(result.stderr).toContain('reads only its own major');
      expect(result.stderr).toContain('next: install PostgreSQL 13');
      expect(result.stderr).not.toContain('no transaction');
      // pg_dump 15 is newer than the server: a warning, not a failure.
      expect(result.stderr).toContain('pg_dump (');
      expect(result.stderr).toContain('works with servers older than itself, continuing');
    }, 300_000);
  },
);
