// Version matrix, PostgreSQL 14 (see lib/matrix.ts). Binaries: 14's initdb, pg_ctl and
// postgres from the devDependency pg14; 15's psql, pg_basebackup (tarball layout) and
// pg_dump/pg_restore (safetyBackup.pgDump on), which all work against 14. 15's
// pg_waldump cannot read 14's WAL, so the target is a restore point (named backup b1).
import { describeMajor } from './lib/matrix.js';

describeMajor({ major: 14, target: 'restorePoint', layout: 'tarball', pgDump: true, title: "restore point target, 15's pg_basebackup and pg_dump" });
