/**
 * How the side instance is configured for recovery: where its files go under workDir,
 * how restore_command finds WAL, and the settings appended to the recovered copy. Pure:
 * the scripts' constants (script-constants.ts) and RUNBOOK.md (runbook-facts.ts) both
 * read these, so the runbook shows exactly what the scripts do.
 */
import type { NormalizedPlan } from '../plan/normalized.js';
import { confQuote, shellQuote } from './shell.js';
import { sideSettings, sideSettingsText, type SideSetting } from './side-settings.js';

/** `dir/leaf`, whatever slashes the plan wrote at the end of `dir`. */
export function joinPath(dir: string, leaf: string): string {
  return `${dir.replace(/\/+$/, '')}/${leaf}`;
}

/** Where the side instance keeps its files: all under recovery.workDir. */
export interface SidePaths {
  workDir: string;
  sideDataDir: string;
  socketDir: string;
  /** Staged WAL, outside pg_wal. */
  stagingDir: string;
  /** pg_ctl -D of the side instance on the Debian layout. */
  sideConfDir: string;
  sideLogFile: string;
  /** The script restore_command falls back to. */
  restoreScript: string;
  sidePidFile: string;
}

export function sidePaths(plan: NormalizedPlan): SidePaths {
  const workDir = plan.recovery.workDir.replace(/\/+$/, '');
  return {
    workDir,
    sideDataDir: joinPath(workDir, 'data'),
    socketDir: joinPath(workDir, 'run'),
    stagingDir: joinPath(workDir, 'wal-staging'),
    sideConfDir: joinPath(workDir, 'side-conf'),
    sideLogFile: joinPath(workDir, 'side-instance.log'),
    restoreScript: joinPath(workDir, 'bin/restore-wal.sh'),
    sidePidFile: joinPath(workDir, 'side-instance.pid'),
  };
}

/** Target time in microseconds since the epoch; the canonical form always has +00:00. */
export function epochMicros(canonicalUtc: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00:00$/.exec(canonicalUtc);
  if (!m) throw new Error(`not a canonical UTC time: ${canonicalUtc}`);
  const seconds = BigInt(Date.parse(`${m[1]}Z`) / 1000);
  const micros = BigInt((m[2] ?? '').padEnd(6, '0') || '0');
  return (seconds * 1_000_000n + micros).toString();
}

/**
 * The one directory where every file restore_command may take is already complete:
 * the staging directory (the stager renames checked files into it; phase 04 empties it
 * first), or, for a local archive of uncompressed files with no lock, the archive's WAL
 * directory itself. The scripts get it as WAL_FAST_PATH_DIR.
 */
export function restoreFastPathDir(plan: NormalizedPlan, pinned: boolean): string {
  const src = plan.source;
  if (walIsStaged(plan, pinned)) return sidePaths(plan).stagingDir;
  return `${(src.path ?? '').replace(/\/+$/, '')}/${src.wal.prefix.replace(/\/$/, '')}`;
}

/**
 * Whether WAL goes through the staging directory (the scripts read it as WAL_STAGED). A
 * local archive of uncompressed files is read in place (a staged copy would only be a
 * second copy), unless a lock asks for every file to be checked before use.
 */
export function walIsStaged(plan: NormalizedPlan, pinned: boolean): boolean {
  return plan.source.kind === 's3' || plan.source.wal.compression !== 'none' || pinned;
}

/**
 * restore_command. PostgreSQL runs it through /bin/sh once per WAL file, so its cost is
 * paid ~60 times per GiB replayed: a file already complete in the fast-path directory is
 * copied by sh itself (no bash start-up, ~10 ms a file here); anything else, or a failed
 * copy, goes to restore-wal.sh, which waits for files in flight, fetches, and turns
 * failures into the right exit codes (a failed cp must never read as "not found").
 * Paths are shell words inside a conf string; PostgreSQL expands %f/%p/%r and %%
 * anywhere in the command, so a literal % is doubled.
 */
export function restoreCommand(restoreScript: string, fastPathDir: string): string {
  const word = (path: string): string => shellQuote(path).replaceAll('%', '%%');
  const staged = `${word(`${fastPathDir}/`)}%f`;
  return `test -f ${staged} && cp ${staged} %p || exec ${word(restoreScript)} %f %p`;
}

/** The side instance's settings (see side-settings.ts), with this plan's restore_command. */
export function sideSettingsFor(plan: NormalizedPlan, restoreScript: string, socketDir: string, pidFile: string, pinned: boolean): SideSetting[] {
  return sideSettings(plan, { restoreCommand: restoreCommand(restoreScript, restoreFastPathDir(plan, pinned)), socketDir, pidFile });
}

/**
 * The settings appended to the recovered copy's postgresql.auto.conf for the side
 * instance (see side-settings.ts): the target, and its own value for every setting that
 * runs a command, reaches outside workDir or sizes memory. 05-configure appends the
 * settings it sizes on the host (SIZED_SETTINGS) after these, inside the same markers.
 */
export function recoveryConfBlock(plan: NormalizedPlan, restoreScript: string, socketDir: string, pidFile: string, pinned: boolean): string {
  return sideSettingsText(sideSettingsFor(plan, restoreScript, socketDir, pidFile, pinned));
}

/**
 * Debian layout: a config directory for pg_ctl -D that includes production's config
 * but points data_directory at the recovered copy. Lines after the include win over
 * production's; the copy's postgresql.auto.conf (with the recovery block) is read after
 * this whole file, so every override there wins too.
 */
export function sideConfigText(configFile: string, sideDataDir: string, pidFile: string): string {
  return [
    `include ${confQuote(configFile)}`,
    `data_directory = ${confQuote(sideDataDir)}`,
    `external_pid_file = ${confQuote(pidFile)}`,
  ].join('\n');
}
