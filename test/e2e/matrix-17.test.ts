// Version matrix, PostgreSQL 17 (see lib/matrix.ts). Binaries: 17's initdb, pg_ctl and
// postgres from the devDependency pg17; 15's psql. 15's pg_basebackup refuses 17, so the
// base backups are taken with the low-level API (pg_backup_start/stop + tar, tarball
// layout); 15's pg_dump refuses 17, so safetyBackup.pgDump is off; 15's pg_waldump
// cannot read 17's WAL, so the target is an xid (named backup b1).
import { describeMajor } from './lib/matrix.js';

describeMajor({ major: 17, target: 'xid', layout: 'tarball', pgDump: false, title: 'xid target, low-level base backups, no pg_dump' });
