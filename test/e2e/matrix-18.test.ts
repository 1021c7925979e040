// Version matrix, PostgreSQL 18 (see lib/matrix.ts). Binaries: 18's initdb, pg_ctl and
// postgres from the devDependency pg18; 15's psql. 15's pg_basebackup refuses 18, so the
// base backups are taken with the low-level API (pg_backup_start/stop + tar, tarball
// layout); 15's pg_dump refuses 18, so safetyBackup.pgDump is off; 15's pg_waldump
// cannot read 18's WAL, so the target is an lsn.
import { describeMajor } from './lib/matrix.js';

describeMajor({ major: 18, target: 'lsn', layout: 'tarball', pgDump: false, title: 'lsn target, low-level base backups, no pg_dump' });
