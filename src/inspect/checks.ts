/**
 * `pitr inspect`'s checks: the facts read from the live server (ServerFacts) judged
 * against the plan. Pure: the command gathers the facts, this decides.
 *
 * pass: matches the plan; info: a fact worth seeing; warn: the recovery can work but
 * something needs attention; fail: the plan does not match the server (exit 1).
 */
import { canonicalTimeToMicros, parseStopTime } from '../archive/stop-time.js';
import type { NormalizedPlan } from '../plan/normalized.js';

export type CheckStatus = 'pass' | 'info' | 'warn' | 'fail';

export interface Check {
  check: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

export interface ArchiverStats {
  archivedCount: number;
  lastArchivedWal: string | null;
  /** ISO 8601 UTC. */
  lastArchivedTime: string | null;
  failedCount: number;
  lastFailedWal: string | null;
  lastFailedTime: string | null;
}

export interface ServerFacts {
  /** server_version, e.g. "15.8 (Debian 15.8-1.pgdg120+1)". */
  serverVersion: string;
  serverVersionNum: number;
  dataDirectory: string;
  /** data_directory and the plan's dataDir with symlinks resolved, when both exist here. */
  dataDirectoryReal: string | null;
  planDataDirReal: string | null;
  configFile: string;
  timezone: string;
  logTimezone: string;
  /** The zone abbreviation log_timezone gives now, as backups' STOP TIME will show it. */
  logTimezoneAbbreviation: string;
  walSegmentSizeBytes: number;
  hotStandby: string;
  archiveMode: string;
  archiveCommand: string;
  /** archive_library (PostgreSQL 15+), "" when unset or unknown. */
  archiveLibrary: string;
  archiver: ArchiverStats;
  /** Every table the plan's verify section names: does it exist (search_path of the role)? */
  tables: Record<string, boolean>;
  /** For each notAfterTarget entry: the column's type, or null when the table or column is missing. */
  columns: { table: string; column: string; type: string | null }[];
  /**
   * Tablespaces outside the data directory (pg_tablespace, pg_tablespace_location): the
   * scripts restore each into a copy on its filesystem and finalize renames it in.
   * Absent when not read.
   */
  tablespaces?: { name: string; oid: string; location: string }[];
}

const TIMESTAMP_TYPES = ['timestamp with time zone', 'timestamp without time zone'];

export function evaluateChecks(plan: NormalizedPlan, facts: ServerFacts): Check[] {
  const checks: Check[] = [];
  const add = (check: string, status: CheckStatus, detail: string, fix?: string) =>
    checks.push(fix === undefined ? { check, status, detail } : { check, status, detail, fix });

  const major = Math.floor(facts.serverVersionNum / 10000);
  if (major === plan.postgres.version) add('server version', 'pass', `PostgreSQL ${facts.serverVersion}`);
  else {
    add('server version', 'fail', `the server is PostgreSQL ${facts.serverVersion}, the plan says ${plan.postgres.version}`,
      `set postgres.version to ${major} (the backups come from the server's major version)`);
  }

  const sameDataDir =
    normalizePath(facts.dataDirectory) === normalizePath(plan.postgres.dataDir) ||
    (facts.dataDirectoryReal !== null && facts.dataDirectoryReal === facts.planDataDirReal);
  if (sameDataDir) add('data_directory', 'pass', facts.dataDirectory);
  else {
    add('data_directory', 'fail', `the server's data_directory is ${facts.dataDirectory}, the plan says ${plan.postgres.dataDir}`,
      `set postgres.dataDir to ${facts.dataDirectory}`);
  }

  if (plan.postgres.configFile !== null) {
    if (normalizePath(facts.configFile) === normalizePath(plan.postgres.configFile)) add('config_file', 'pass', facts.configFile);
    else {
      add('config_file', 'fail', `the server's config_file is ${facts.configFile}, the plan says ${plan.postgres.configFile}`,
        `set postgres.configFile to ${facts.configFile}, or remove it when postgresql.conf is in the data directory`);
    }
  }

  const stopTime = parseStopTime(`2000-01-01 00:00:00 ${facts.logTimezoneAbbreviation}`);
  const zones = `timezone ${facts.timezone}, log_timezone ${facts.logTimezone} (backups' STOP TIME reads "${facts.logTimezoneAbbreviation}")`;
  if (stopTime.ok && stopTime.stopTime.uncertainty === null) add('timezone', 'info', zones);
  else {
    const why = stopTime.ok ? stopTime.stopTime.uncertainty : stopTime.message;
    add('timezone', 'warn', `${zones}: ${why}`,
      'pitr resolve cannot always tell when such a backup ended: name the backup with source.backup, or set log_timezone to a zone with an unambiguous abbreviation (e.g. UTC) before the next base backup');
  }

  add('wal_segment_size', 'info', `${facts.walSegmentSizeBytes / (1024 * 1024)} MB`);

  if (facts.hotStandby === 'on') add('hot_standby', 'info', 'on (the side instance will be readable while paused)');
  else {
    add('hot_standby', 'warn', `${facts.hotStandby}: the backup carries this setting; without hot standby a paused recovery acts as a shutdown`,
      'the generated configure phase sets hot_standby = on for the side instance; set it on the primary too so backups carry it');
  }

  const archiving = facts.archiveMode === 'on' || facts.archiveMode === 'always';
  if (archiving) add('archive_mode', 'pass', facts.archiveMode);
  else {
    add('archive_mode', 'fail', `${facts.archiveMode}: no WAL is archived, so there is nothing to recover to a point in time from`,
      "ALTER SYSTEM SET archive_mode = 'on' and restart the server, then take a new base backup");
  }
  const command = facts.archiveCommand.trim();
  if (command !== '' && command !== '(disabled)') add('archive_command', 'pass', command);
  else if (facts.archiveLibrary.trim() !== '') add('archive_command', 'pass', `archive_library ${facts.archiveLibrary}`);
  else {
    add('archive_command', 'fail', 'not set: archived WAL goes nowhere',
      "ALTER SYSTEM SET archive_command = '...' (copying %p into the plan's source) and SELECT pg_reload_conf()");
  }

  const a = facts.archiver;
  const failing = a.failedCount > 0 && a.lastFailedTime !== null && (a.lastArchivedTime === null || a.lastFailedTime > a.lastArchivedTime);
  if (failing) {
    add('archiver', 'warn', `archiving is failing: ${a.failedCount} failures, the last for ${a.lastFailedWal ?? '?'} at ${a.lastFailedTime}` +
      (a.lastArchivedTime ? `, after the last success (${a.lastArchivedWal} at ${a.lastArchivedTime})` : ', and nothing was ever archived'),
      "read the server log for archive_command's error and fix it; WAL piles up in pg_wal until it works");
  } else if (a.lastArchivedTime === null) {
    add('archiver', 'warn', 'nothing has been archived yet', 'SELECT pg_switch_wal() and check pg_stat_archiver again');
  } else {
    add('archiver', 'pass', `${a.archivedCount} archived, the last ${a.lastArchivedWal} at ${a.lastArchivedTime}; ${a.failedCount} failures`);
  }

  if (plan.target.kind === 'time' && a.lastArchivedTime !== null) {
    const lastMicros = Date.parse(a.lastArchivedTime) * 1000;
    if (lastMicros < canonicalTimeToMicros(plan.target.value)) {
      add('archive vs target', 'warn', `archiving is behind the target: the last segment was archived at ${a.lastArchivedTime}, before ${plan.target.value}`,
        'SELECT pg_switch_wal() on the primary so the WAL holding the target is archived');
    } else {
      add('archive vs target', 'pass', `the last segment was archived at ${a.lastArchivedTime}, after ${plan.target.value}`);
    }
  }

  if (facts.tablespaces !== undefined) {
    if (facts.tablespaces.length === 0) add('tablespaces', 'info', 'none outside the data directory');
    for (const t of facts.tablespaces) {
      add(`tablespace ${t.name}`, 'info',
        `oid ${t.oid} at ${t.location}: recovered into a copy on the same filesystem (under workDir, else ${t.location}.pitr-<run id>); finalize renames ${t.location} to ${t.location}.pre-pitr-<run id> and the copy into its place`);
    }
  }

  for (const table of plan.verify.rowCounts) {
    if (facts.tables[table]) add(`table ${table}`, 'pass', 'exists (verify.rowCounts)');
    else add(`table ${table}`, 'fail', `does not exist in database ${plan.postgres.database} (verify.rowCounts)`, 'fix or remove it in verify.rowCounts');
  }
  for (const { table, column, type } of facts.columns) {
    const name = `column ${table}.${column}`;
    if (type === null) {
      const missing = facts.tables[table] ? `table ${table} has no column ${column}` : `table ${table} does not exist`;
      add(name, 'fail', `${missing} in database ${plan.postgres.database} (verify.notAfterTarget)`, 'fix or remove it in verify.notAfterTarget');
    } else if (TIMESTAMP_TYPES.includes(type)) {
      add(name, 'pass', `${type} (verify.notAfterTarget)`);
    } else {
      add(name, 'warn', `is ${type}, not a timestamp: comparing its max() with the target time may fail or mean nothing`,
        'name a timestamp or timestamptz column in verify.notAfterTarget');
    }
  }
  return checks;
}

function normalizePath(path: string): string {
  const collapsed = path.replace(/\/+/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}
