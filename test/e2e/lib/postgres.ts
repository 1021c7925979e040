// Real PostgreSQL servers for the end-to-end tests: the primary that writes the
// WAL archive, generic pg_ctl / psql helpers usable against any server (a recovered
// one, a side instance started by generated scripts), and cleanup. Debian's 15 by
// default; another major's server programs when a test registers their directory
// (lib/majors.ts): initdb and pg_ctl then come from there, psql is always 15's (it
// talks to every major).
//
// Every server command runs as the postgres OS user (PostgreSQL refuses root), and
// every directory a server uses is owned by postgres.

import { appendFile, mkdir, readFile, readdir, stat, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  PG_BIN,
  chownToPostgres,
  freePort,
  runAsPostgres,
  StopWaiting,
  tailFile,
  waitFor,
  type RunResult,
} from './exec.js';

export type WalCompression = 'none' | 'gzip' | 'zstd';

/** Where a server listens: listen_addresses is '' in our servers, so only the unix socket. */
export interface ServerAddress {
  socketDir: string;
  port: number;
}

/** Everything needed to start, stop, query and diagnose one server. */
export interface ServerLocation extends ServerAddress {
  dataDir: string;
  logFile: string;
}

export interface Primary extends ServerLocation {
  /** Server major (15 unless startPrimary was given another). */
  major: number;
  /** The harness root this primary lives in. */
  root: string;
  /** `<root>/archive`, with `base/` and `wal/` below it. */
  archiveDir: string;
  walCompression: WalCompression;
  timezone: string;
  /** psql -X -At -q -v ON_ERROR_STOP=1 against this server; returns trimmed stdout. */
  psql(sql: string, db?: string): Promise<string>;
  /** pg_switch_wal(), then wait until the finished segment is in the archive. */
  switchWal(): Promise<string>;
  stop(): Promise<void>;
  postmasterPid(): Promise<number>;
}

// ---------------------------------------------------------------------------
// Quoting (values reach postgresql.conf, shell commands and libpq conninfo).

/** A shell word: single quotes, with ' written as '\''. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A postgresql.conf string literal: single quotes, with ' doubled. */
export function confQuote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** An SQL identifier: double quotes, with " doubled (for hostile database names). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** An SQL string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A libpq conninfo value: single quotes, with \ and ' backslash-escaped. */
function conninfoQuote(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

// ---------------------------------------------------------------------------
// Generic helpers usable against any server.

/** Server programs (initdb, pg_ctl, postgres) of majors other than 15, by major. */
const serverBinDirs = new Map<number, string>([[15, PG_BIN]]);

/** Use `dir`'s initdb and pg_ctl for servers of `major` (lib/majors.ts registers them). */
export function registerServerBinDir(major: number, dir: string): void {
  serverBinDirs.set(major, dir);
}

/** The directory holding the server programs of `major`. */
export function serverBinDir(major: number): string {
  const dir = serverBinDirs.get(major);
  if (!dir) throw new Error(`no server programs registered for PostgreSQL ${major} (lib/majors.ts)`);
  return dir;
}

/** The major of a data directory (its PG_VERSION file), or 15 when it cannot be read. */
async function dataDirMajor(dataDir: string): Promise<number> {
  const text = await readFile(join(dataDir, 'PG_VERSION'), 'utf8').catch(() => '15');
  const major = Number.parseInt(text, 10);
  return Number.isFinite(major) ? major : 15;
}

/**
 * pg_ctl -D dataDir ...args, as postgres, with the pg_ctl of the data directory's
 * major (PG_VERSION) when one is registered, else 15's. Rejects on a non-zero exit.
 */
export async function pgCtl(dataDir: string, args: string[], options: { allowFailure?: boolean } = {}): Promise<RunResult> {
  const binDir = serverBinDirs.get(await dataDirMajor(dataDir)) ?? PG_BIN;
  return runAsPostgres(join(binDir, 'pg_ctl'), ['-D', dataDir, ...args], options);
}

export interface PsqlOptions extends ServerAddress {
  sql: string;
  /** Database name, used verbatim (any characters). Default postgres. */
  db?: string;
  /** Database role. Default postgres. */
  user?: string;
}

/**
 * Run SQL through psql as the postgres OS user over the unix socket, with
 * -X (no psqlrc) -At (bare rows, | between columns) -q (no command tags) and
 * ON_ERROR_STOP. The SQL goes through stdin so several statements are fine.
 * The database name travels in a conninfo string, so names with spaces, quotes or
 * `=` cannot be misread as options or connection strings. Returns trimmed stdout.
 */
export async function psqlAt({ socketDir, port, sql, db = 'postgres', user = 'postgres' }: PsqlOptions): Promise<string> {
  const conninfo = [
    `host=${conninfoQuote(socketDir)}`,
    `port=${port}`,
    `dbname=${conninfoQuote(db)}`,
    `user=${conninfoQuote(user)}`,
  ].join(' ');
  const result = await runAsPostgres(
    join(PG_BIN, 'psql'),
    ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', conninfo],
    { input: sql, timeoutMs: 120_000 },
  );
  return result.stdout.trim();
}

/**
 * Append settings to a postgresql.conf-style file (postgresql.auto.conf for
 * recovery). Strings are quoted for the conf file; numbers and booleans are not.
 * Appending keeps the file's owner (postgres).
 */
export async function appendPostgresConf(file: string, settings: Record<string, string | number | boolean>): Promise<void> {
  const lines = Object.entries(settings).map(([key, value]) =>
    typeof value === 'string' ? `${key} = ${confQuote(value)}` : `${key} = ${String(value)}`,
  );
  await appendFile(file, `\n# added by the pitr-plan e2e harness\n${lines.join('\n')}\n`);
}

/** Data directories of servers we started, so cleanup can find them even outside a root. */
const startedDataDirs = new Set<string>();

/** pg_ctl start -w with a log file. Resolves once connections are accepted. */
export async function startServer(server: ServerLocation): Promise<void> {
  startedDataDirs.add(server.dataDir);
  try {
    await pgCtl(server.dataDir, ['-l', server.logFile, '-w', '-t', '120', 'start']);
  } catch (error) {
    throw new Error(`${String(error)}\n${await tailFile(server.logFile)}`);
  }
}

/** The postmaster's pid from postmaster.pid, or undefined when the file is absent. */
export async function readPostmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const firstLine = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0] ?? '';
    const pid = Number.parseInt(firstLine, 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Stop the server in dataDir if one runs there: fast shutdown, then immediate, then
 * SIGKILL to the postmaster pid it recorded (never by process name).
 */
export async function stopServer(dataDir: string): Promise<void> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === undefined || !isProcessAlive(pid)) return;
  for (const mode of ['fast', 'immediate']) {
    await pgCtl(dataDir, ['-m', mode, '-w', '-t', '60', 'stop'], { allowFailure: true });
    if (!isProcessAlive(pid)) return;
  }
  process.kill(pid, 'SIGKILL');
  await waitFor(async () => !isProcessAlive(pid), { description: `postmaster ${pid} to die`, timeoutMs: 10_000 });
}

/** Directories under `root` that hold a postmaster.pid (i.e. a server that may be running). */
export async function findServerDataDirs(root: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.name === 'PG_VERSION' && e.isFile())) {
      // A data directory: do not descend into base/, pg_wal/ and friends.
      if (entries.some((e) => e.name === 'postmaster.pid')) found.push(dir);
      return;
    }
    for (const entry of entries) {
      if (entry.isDirectory() && !entry.isSymbolicLink()) await walk(join(dir, entry.name));
    }
  }
  await walk(root);
  return found;
}

/**
 * Stop every server whose data directory is under `root` — ours and any side
 * instance a generated script started there — plus any we started elsewhere.
 */
export async function stopServersUnder(root: string): Promise<void> {
  const dataDirs = new Set([...(await findServerDataDirs(root)), ...startedDataDirs]);
  for (const dataDir of dataDirs) {
    await stopServer(dataDir);
    startedDataDirs.delete(dataDir);
  }
}

/**
 * While in recovery: pg_get_wal_replay_pause_state() ('paused', 'pause requested',
 * 'not paused'); after promotion: 'promoted' (the function raises an error then).
 */
export async function recoveryState(server: ServerAddress): Promise<string> {
  return psqlAt({
    ...server,
    sql: `SELECT CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() ELSE 'promoted' END`,
  });
}

/**
 * Poll until recovery pauses at its target. `pg_ctl -w start` returns as soon as
 * read-only connections are accepted, long before the target is reached. Fails
 * early (with the log) if the server stops, e.g. on "recovery ended before
 * configured recovery target was reached".
 */
export async function waitForRecoveryPause(server: ServerLocation, timeoutMs = 120_000): Promise<void> {
  await waitFor(
    async () => {
      const pid = await readPostmasterPid(server.dataDir);
      if (pid === undefined || !isProcessAlive(pid)) {
        throw new StopWaiting(`server in ${server.dataDir} stopped during recovery\n${await tailFile(server.logFile)}`);
      }
      const state = await recoveryState(server).catch(() => undefined);
      if (state === 'promoted') {
        throw new StopWaiting(`server in ${server.dataDir} was promoted instead of pausing\n${await tailFile(server.logFile)}`);
      }
      return state === 'paused';
    },
    { description: `recovery in ${server.dataDir} to pause`, timeoutMs, diagnostics: () => tailFile(server.logFile) },
  );
}

/** Extract a .tar.gz as postgres into a new directory with mode 0700 (a data directory). */
export async function extractTarGzAsPostgres(tarFile: string, destDir: string): Promise<void> {
  await mkdir(destDir, { recursive: true });
  await chmod(destDir, 0o700);
  await chownToPostgres(destDir);
  await runAsPostgres('tar', ['-xzf', tarFile, '-C', destDir]);
}

// ---------------------------------------------------------------------------
// The primary.

/** The archive file name for a WAL/history/backup file under a compression. */
export function archivedName(fileName: string, compression: WalCompression): string {
  return fileName + { none: '', gzip: '.gz', zstd: '.zst' }[compression];
}

/**
 * archive_command that writes into `<walDir>/%f` (or `%f.gz` / `%f.zst`), refusing to
 * overwrite an existing file. It writes a .tmp file and renames it, so readers of the
 * archive never see a half-written segment. Every archived file (segments, .history,
 * .backup) is compressed alike.
 */
export function archiveCommand(walDir: string, compression: WalCompression): string {
  const target = join(walDir, archivedName('%f', compression));
  const temporary = `${target}.tmp`;
  const write = {
    none: `cp %p ${shellQuote(temporary)}`,
    gzip: `gzip -c %p > ${shellQuote(temporary)}`,
    zstd: `zstd -q -c %p > ${shellQuote(temporary)}`,
  }[compression];
  return `test ! -f ${shellQuote(target)} && ${write} && mv ${shellQuote(temporary)} ${shellQuote(target)}`;
}

export interface StartPrimaryOptions {
  root: string;
  /** e.g. 'Asia/Tokyo'; never UTC, so offset bugs show. Used for timezone and log_timezone. */
  timezone: string;
  walCompression?: WalCompression;
  /** Server major; default 15 (Debian's). Others need registerServerBinDir (lib/majors.ts). */
  major?: number;
}

export async function startPrimary({ root, timezone, walCompression = 'none', major = 15 }: StartPrimaryOptions): Promise<Primary> {
  const primaryDir = join(root, 'primary');
  const dataDir = join(primaryDir, 'data');
  const socketDir = join(primaryDir, 'run');
  const logFile = join(primaryDir, 'server.log');
  const archiveDir = join(root, 'archive');
  const walDir = join(archiveDir, 'wal');
  for (const dir of [dataDir, socketDir, join(archiveDir, 'base'), walDir]) await mkdir(dir, { recursive: true });
  await chmod(dataDir, 0o700);
  await chownToPostgres(primaryDir);
  await chownToPostgres(archiveDir);

  await runAsPostgres(join(serverBinDir(major), 'initdb'), ['-D', dataDir, '--auth=trust', '-E', 'UTF8', '--locale=C', '-U', 'postgres']);
  const port = await freePort();
  await appendPostgresConf(join(dataDir, 'postgresql.conf'), {
    port,
    unix_socket_directories: socketDir,
    listen_addresses: '',
    timezone,
    log_timezone: timezone,
    wal_level: 'replica',
    archive_mode: 'on',
    archive_command: archiveCommand(walDir, walCompression),
    archive_timeout: 0,
    max_wal_senders: 4,
    hot_standby: 'on',
  });

  const location: ServerLocation = { dataDir, port, socketDir, logFile };
  await startServer(location);

  const primary: Primary = {
    ...location,
    major,
    root,
    archiveDir,
    walCompression,
    timezone,
    psql: (sql, db) => psqlAt({ socketDir, port, sql, db }),
    switchWal: async () => {
      // pg_walfile_name() of the switch position names the segment just finished.
      const segment = await primary.psql('SELECT pg_walfile_name(pg_switch_wal())');
      await waitForArchived(primary, segment);
      return segment;
    },
    stop: () => stopServer(dataDir),
    postmasterPid: async () => {
      const pid = await readPostmasterPid(dataDir);
      if (pid === undefined) throw new Error(`no postmaster.pid in ${dataDir}`);
      return pid;
    },
  };
  return primary;
}

/** Wait until `fileName` (a segment, .history or .backup file) is in the primary's archive. */
export async function waitForArchived(primary: Primary, fileName: string, timeoutMs = 60_000): Promise<void> {
  const path = join(primary.archiveDir, 'wal', archivedName(fileName, primary.walCompression));
  await waitFor(async () => existsSync(path) && (await stat(path)).isFile(), {
    description: `${path} to be archived`,
    timeoutMs,
    diagnostics: async () =>
      `pg_stat_archiver: ${await primary.psql('SELECT * FROM pg_stat_archiver').catch(String)}\n${await tailFile(primary.logFile)}`,
  });
}

