// The side instance's own settings: what 05-configure appends to the recovered copy's
// postgresql.auto.conf, between markers that finalize removes after promotion.
//
// The copy inherits production's configuration (the backup's postgresql.conf, or, on
// the Debian layout, production's postgresql.conf included by workDir/side-conf).
// postgresql.auto.conf is read after every other file, so a setting here wins over any
// value production's files give it. Every setting that runs a command, reaches outside
// workDir, or sizes memory gets the side instance's own value here, whatever production
// says. Settings a major does not know are left out: an unknown name in a config file
// stops the server at start-up ("unrecognized configuration parameter").
//
// Deliberately NOT overridden (decided, see RUNBOOK.md "Side instance settings"):
// - shared_preload_libraries: on 15+ an extension may define a custom WAL resource
//   manager that replay needs; the recovered copy becomes production with them anyway.
//   A preloaded background worker acts only on a primary; the side instance is promoted
//   only in finalize, moments before it becomes production.
// - hba_file, ident_file, ssl_* files, krb_server_keyfile: read, never written.
// - wal_level, fsync and the like: local to the copy.

import type { NormalizedPlan } from '../plan/normalized.js';
import { confQuote } from './shell.js';

export interface SideSetting {
  name: string;
  /** The value itself (unquoted), as SHOW would print it. */
  value: string;
  /** How postgresql.conf writes it: quoted strings, bare numbers and keywords. */
  conf: string;
  /** Why the side instance sets it (RUNBOOK, preflight). */
  why: string;
}

/** The majors a setting exists in (PostgreSQL's documentation of each release). */
const MAJORS: Record<string, { since?: number; until?: number }> = {
  // Added in 15 (archive modules).
  archive_library: { since: 15 },
  // Removed in 16 (promotion by pg_ctl promote / pg_promote() only).
  promote_trigger_file: { until: 15 },
  // Removed in 15 (statistics moved to shared memory).
  stats_temp_directory: { until: 14 },
  // Added in 14.
  min_dynamic_shared_memory: { since: 14 },
  // Added in 17 (logical slot synchronisation on a standby).
  sync_replication_slots: { since: 17 },
};

export function settingExistsIn(name: string, major: number): boolean {
  const range = MAJORS[name];
  if (range === undefined) return true;
  return (range.since === undefined || major >= range.since) && (range.until === undefined || major <= range.until);
}

const text = (name: string, value: string, why: string): SideSetting => ({ name, value, conf: confQuote(value), why });
const word = (name: string, value: string | number, why: string): SideSetting => ({ name, value: String(value), conf: String(value), why });
/** Given '', which PostgreSQL reads as "none": no command, server, address, other target or tablespace. */
const emptied = (name: string, why: string): SideSetting => text(name, '', why);

const RECOVERY_TARGETS = ['recovery_target', 'recovery_target_lsn', 'recovery_target_name', 'recovery_target_time', 'recovery_target_xid'] as const;

/** recovery_target_*: ours, the others emptied first (two kinds of target stop the server). */
function targetSettings(plan: NormalizedPlan): SideSetting[] {
  const t = plan.target;
  const ours: SideSetting = (() => {
    switch (t.kind) {
      case 'time': return text('recovery_target_time', t.value, 'the plan\'s target (UTC)');
      case 'xid': return text('recovery_target_xid', t.value, 'the plan\'s target');
      case 'lsn': return text('recovery_target_lsn', t.value, 'the plan\'s target');
      case 'restorePoint': return text('recovery_target_name', t.value, 'the plan\'s target');
      case 'immediate': return text('recovery_target', 'immediate', 'the plan\'s target: the end of the base backup');
    }
  })();
  const others = RECOVERY_TARGETS.filter((n) => n !== ours.name).map((n) =>
    emptied(n, 'production\'s files may name another target; PostgreSQL refuses to start with two'));
  const lines = [...others, ours];
  if (t.kind !== 'immediate') lines.push(word('recovery_target_inclusive', t.inclusive ? 'on' : 'off', 'the plan\'s target.inclusive'));
  lines.push(text('recovery_target_timeline', t.timeline, 'the plan\'s target.timeline'));
  // pause, never promote: verification happens while paused; only finalize promotes.
  lines.push(text('recovery_target_action', 'pause', 'verification happens while paused; only finalize promotes'));
  return lines;
}

export interface SideSettingPaths {
  restoreCommand: string;
  socketDir: string;
  pidFile: string;
}

/**
 * Every setting the side instance gets from us rather than from production, in the order
 * written, for the plan's major. Memory and max_* settings are sized at configure time
 * (see SIZED_SETTINGS) and follow these.
 */
export function sideSettings(plan: NormalizedPlan, paths: SideSettingPaths): SideSetting[] {
  const major = plan.postgres.version;
  const all: SideSetting[] = [
    // What it reads: our WAL only, and no other server.
    text('restore_command', paths.restoreCommand, 'ours: reads the plan\'s archive through workDir; production\'s (a standby\'s) is never run'),
    ...targetSettings(plan),
    emptied('archive_cleanup_command', 'a standby\'s setting that DELETES files in the archive (pg_archivecleanup) at each restartpoint'),
    emptied('recovery_end_command', 'runs a command when recovery ends (at promotion)'),
    emptied('primary_conninfo', 'would stream WAL from another server instead of the plan\'s archive'),
    emptied('primary_slot_name', 'would hold a replication slot on another server'),
    emptied('promote_trigger_file', 'a file that, once present, promotes the server at an unknown point'),
    word('recovery_min_apply_delay', 0, 'a delayed standby\'s setting: replay would wait behind the target'),
    word('sync_replication_slots', 'off', 'would connect to primary_conninfo to copy logical slots'),
    word('hot_standby', 'on', 'pause at the target needs it (without it the pause shuts down, 14+); verify reads the paused server'),
    // What it writes outside its own directory.
    word('archive_mode', 'off', 'must not archive into production\'s archive'),
    emptied('archive_command', 'a command that writes into production\'s archive'),
    emptied('archive_library', 'a module that writes into production\'s archive'),
    // Where it listens, and the files that name a running server.
    word('port', plan.recovery.port, 'recovery.port: never production\'s'),
    emptied('listen_addresses', 'unix socket only: no client of production can reach it'),
    text('unix_socket_directories', paths.socketDir, 'its own socket and socket lock file in workDir'),
    text('external_pid_file', paths.pidFile, 'production\'s (Debian: /var/run/postgresql/VERSION-CLUSTER.pid) would be overwritten'),
    word('ssl', 'off', 'no TCP listener; ssl_passphrase_command would run a command'),
    word('bonjour', 'off', 'would advertise the server on the network'),
    text('cluster_name', `pitr-side-${plan.name}`, 'its processes must not look like production\'s to monitoring (ps, pg_lsclusters)'),
    text('stats_temp_directory', 'pg_stat_tmp', 'Debian sets an absolute path under /var/run/postgresql shared with production (13, 14)'),
    emptied('temp_tablespaces', 'temporary files of verify queries stay in the copy\'s own directory'),
    // Its log: one file in workDir, in words the recover phase can read.
    word('logging_collector', 'off', 'with production\'s log_directory it would write into production\'s log files'),
    text('log_destination', 'stderr', 'syslog/eventlog/csvlog would go elsewhere than the side instance\'s log file'),
    text('lc_messages', 'C', 'the recover phase reads English log lines ("recovery stopping ...")'),
    word('log_min_messages', 'warning', 'LOG lines ("recovery stopping ...") must be written'),
    // Memory: not a second production-sized instance on the same host.
    word('huge_pages', 'off', 'production\'s reserved huge pages are production\'s'),
    word('min_dynamic_shared_memory', 0, 'preallocated memory sized for production'),
  ];
  return all.filter((s) => settingExistsIn(s.name, major));
}

/** Sized by 05-configure on the host, appended after sideSettings (same markers). */
export const SIZED_SETTINGS: { name: string; rule: string }[] = [
  { name: 'shared_buffers', rule: 'the smallest of production\'s shared_buffers, 1/8 of MemAvailable and 1 GiB, at least 32 MiB: replay needs little, and the host keeps production\'s memory' },
  { name: 'max_connections', rule: 'the largest of production\'s current value and the backup\'s pg_control value: lower, and replay pauses (14+) or stops (13)' },
  { name: 'max_worker_processes', rule: 'as max_connections' },
  { name: 'max_wal_senders', rule: 'as max_connections' },
  { name: 'max_prepared_transactions', rule: 'as max_connections (pg_control: max_prepared_xacts)' },
  { name: 'max_locks_per_transaction', rule: 'as max_connections (pg_control: max_locks_per_xact)' },
];

/** The static block as postgresql.conf lines. */
export function sideSettingsText(settings: SideSetting[]): string {
  return settings.map((s) => `${s.name} = ${s.conf}`).join('\n');
}
