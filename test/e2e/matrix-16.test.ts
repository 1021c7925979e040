// Version matrix, PostgreSQL 16 (see lib/matrix.ts). Binaries: 16's initdb, pg_ctl and
// postgres from the devDependency pg16; 15's psql. 15's pg_basebackup refuses 16, so the
// base backups are taken with the low-level API (pg_backup_start/stop + tar, tarball
// layout); 15's pg_dump refuses 16, so safetyBackup.pgDump is off; 15's pg_waldump
// cannot read 16's WAL, so the target is an lsn (preflight runs pg_waldump for time
// targets only).
import { describeMajor } from './lib/matrix.js';

describeMajor({ major: 16, target: 'lsn', layout: 'tarball', pgDump: false, title: 'lsn target, low-level base backups, no pg_dump' });
