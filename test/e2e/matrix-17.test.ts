// Version matrix, PostgreSQL 17 (see lib/matrix.ts). Binaries: 17's initdb, pg_ctl and
// postgres from the devDependency pg17; 15's psql. 15's pg_basebackup refuses 17, so the
// base backups are taken with the low-level API (pg_backup_start/stop + tar, tarball
// layout); 15's pg_dump refuses 17, so safetyBackup.pgDump is off; 15's pg_waldump
// cannot read 17's WAL, so the target is an xid (named backup b1).
//
// Incremental backups: no PostgreSQL 17 pg_basebackup is available here, so the test
// builds one's markers as PostgreSQL 17 writes them: a backup b3 taken after b2 (low-level
// API), whose archived backup history file and backup_label get the two lines
// build_backup_content() (src/backend/access/transam/xlogbackup.c) adds for an
// incremental backup, "INCREMENTAL FROM LSN: <start LSN of the backup it builds on>" and
// "INCREMENTAL FROM TLI: <its timeline>", pointing at b2. (Its tar still holds full
// files: preflight must refuse it before anything reads the tar.)
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runResolve } from '../../src/commands/resolve.js';
import { takeBaseBackup } from './lib/archive.js';
import { describeMajor } from './lib/matrix.js';

describeMajor({ major: 17, target: 'xid', layout: 'tarball', pgDump: false, title: 'xid target, low-level base backups, no pg_dump' }, (ctx) => {
  let targetLsn = '';

  it('an incremental backup (INCREMENTAL FROM LSN) is never auto-selected: the newest FULL backup is', async () => {
    const { primary, scenario } = ctx();
    const b3 = await takeBaseBackup(primary, { id: 'b3', layout: 'tarball' });
    const marker = `INCREMENTAL FROM LSN: ${scenario.backups['b2']!.startWalLocation}\nINCREMENTAL FROM TLI: 1\n`;
    appendFileSync(join(primary.archiveDir, 'wal', b3.fileName), marker);
    appendFileSync(join(primary.archiveDir, 'base', 'b3', 'backup_label'), marker);
    expect(readFileSync(join(primary.archiveDir, 'wal', b3.fileName), 'utf8')).toContain('INCREMENTAL FROM LSN');
    // An lsn target after b3: auto would take b3 if it counted as a full backup. Restore
    // points write WAL without changing a row (pg_backup_stop left an empty segment, and
    // pg_switch_wal does not switch away from one).
    await primary.psql("SELECT pg_create_restore_point('after-b3')");
    targetLsn = await primary.psql('SELECT pg_current_wal_insert_lsn()');
    await primary.psql("SELECT pg_create_restore_point('after-target')");
    await primary.switchWal();

    const bundle = ctx().compile('matrix-17-incr-auto', (plan) => {
      plan.target = { lsn: targetLsn, inclusive: false };
      plan.source.backup = 'auto';
    });
    const result = await ctx().runScript(bundle, 'run.sh', ['--yes', '--only', '00-preflight']);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    expect(result.stderr).toContain('passing over backup b3: an incremental backup (INCREMENTAL FROM LSN');
    expect(result.stderr).toContain('base backup: b2 ');
  }, 600_000);

  it('naming the incremental backup is refused in preflight, naming the full backup to use', async () => {
    const bundle = ctx().compile('matrix-17-incr-named', (plan) => {
      plan.target = { lsn: targetLsn, inclusive: false };
      plan.source.backup = 'b3';
    });
    const result = await ctx().runScript(bundle, 'run.sh', ['--yes', '--only', '00-preflight']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('FAIL [00-preflight] backup b3 (source.backup) is an incremental backup (PostgreSQL 17+, INCREMENTAL FROM LSN');
    expect(result.stderr).toContain('next: name the full backup its chain starts from instead: source.backup: b2 (or auto)');

    // pitr resolve (TypeScript) applies the same rule.
    const errors: string[] = [];
    const code = await runResolve(join(ctx().planDir, 'matrix-17-incr-named.yaml'), { stdout: () => {}, stderr: (t: string) => errors.push(t) });
    expect(code).toBe(1);
    expect(errors.join('')).toContain('backup b3 (source.backup) cannot be used: an incremental backup');
    expect(errors.join('')).toContain('set source.backup to b2');
  }, 600_000);
});
