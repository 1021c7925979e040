import type { LockFile } from '../archive/lock.js';
import type { NormalizedPlan, TargetKind } from '../plan/normalized.js';
import { confQuote, shellQuote } from './shell.js';
import { SIZED_SETTINGS, sideSettings, sideSettingsText, type SideSetting } from './side-settings.js';

/** A readonly bash constant: a scalar, or an array when `values` is set. */
export interface Constant {
  name: string;
  value?: string;
  values?: string[];
  /** Shown as a comment above the constant. */
  about: string;
}

/** Everything the templates print. Templates print plan values only through `q`. */
export interface ScriptModel {
  planName: string;
  description: string;
  planSha256: string;
  compilerVersion: string;
  constants: Constant[];
  /** Flags choose which code a template includes; they never print. */
  is: Record<string, boolean>;
  /**
   * The view of each variant axis: which templates/views/<axis>/<kind>.sh renders as
   * lib/<axis>.sh. A bundle holds only its own plan's kinds.
   */
  views: Views;
  /** For RUNBOOK.md only (markdown, not shell). */
  runbook: RunbookFacts;
}

/** One kind per axis; each names a file of templates/views/<axis>/. */
export type Views = {
  source: string;
  runtime: string;
  service: string;
  notify: string;
};

/** The plan's kind on each view axis. */
export function viewsOf(plan: NormalizedPlan): Views {
  return {
    source: plan.source.kind,
    runtime: plan.runtime.kind,
    service: plan.postgres.service.kind,
    notify: plan.notify.slack === null ? 'log' : 'slack',
  };
}

/** The constants only one kind's view reads, by axis and kind. */
const VIEW_CONSTANTS: { readonly [Axis in keyof Views]: Readonly<Record<string, readonly string[]>> } = {
  source: { s3: ['S3_BUCKET', 'S3_REGION', 'S3_ENDPOINT'], local: ['ARCHIVE_PATH'] },
  runtime: { docker: ['COMPOSE_CMD', 'COMPOSE_FILE', 'COMPOSE_SERVICES'], k8s: ['K8S_CONTEXT', 'K8S_NAMESPACE', 'K8S_DEPLOYMENTS'], none: [] },
  service: { systemd: ['SERVICE_UNIT'], pg_ctlcluster: ['SERVICE_CLUSTER'], pg_ctl: ['SERVICE_LOG_FILE'] },
  notify: { slack: ['SLACK_WEBHOOK_ENV'], log: [] },
};

/** CONSTANTS without those of the other kinds' views: a bundle declares only its own plan's. */
export function constantsForViews(constants: Constant[], views: Views): Constant[] {
  const foreign = new Set<string>();
  for (const axis of Object.keys(VIEW_CONSTANTS) as (keyof Views)[]) {
    for (const [kind, names] of Object.entries(VIEW_CONSTANTS[axis])) if (kind !== views[axis]) names.forEach((n) => foreign.add(n));
  }
  return constants.filter((k) => !foreign.has(k.name));
}

/**
 * Everything RUNBOOK.md prints. Plan values are raw here (the template escapes them at
 * the point of output: `md` for markdown, `mermaid` for diagram labels); commands are
 * shown as an operator would type them, values shell-quoted where they need it.
 * `<run id>` stands for what the scripts fill in at run time (UTC, YYYYMMDDTHHMMSSZ).
 */
export interface RunbookFacts {
  /** One line: kind, canonical value, inclusive or not, timeline. */
  target: string;
  /** The time as the plan wrote it (time targets), else null. */
  targetWritten: string | null;
  targetKind: TargetKind;
  /** Canonical value (times in UTC); "" for immediate. */
  targetValue: string;
  targetIs: Record<TargetKind, boolean>;
  inclusive: boolean;
  /** "latest" | "current" | a timeline id. */
  timeline: string;
  /** One line: where the archive is and how it is laid out. */
  source: string;
  archive: {
    /** Where base backups are, with <id> for the backup id. */
    baseObjects: string[];
    /** Where archived WAL is, with <segment> for a file name. */
    walObjects: string;
    /** The command that reads one object (restore_command and fetch use it). */
    readCommand: string;
  };
  backupChoice: string;
  backupAuto: boolean;
  /** The backup id the plan names, or null for auto. */
  backupId: string | null;
  recoveryConf: string;
  /** Every setting the side instance takes from us (value as postgresql.conf writes it), with why. */
  sideSettings: { name: string; value: string; why: string }[];
  /** Settings 05-configure sizes on the host, with the rule. */
  sizedSettings: { name: string; rule: string }[];
  /** Seconds without an answer or replay progress before 06-recover stops. */
  stallTimeoutSeconds: number;
  /** One line: the application runtime. */
  services: string;
  server: {
    version: number;
    database: string;
    dataDir: string;
    configFile: string | null;
    osUser: string;
    superuser: string;
    port: number;
    host: string;
    binDir: string;
    /** How production is stopped and started (finalize, rollback). */
    stopCommand: string;
    startCommand: string;
  };
  side: {
    port: number;
    workDir: string;
    dataDir: string;
    socketDir: string;
    stagingDir: string;
    /** Where copies of tablespaces and of a linked pg_wal go when workDir shares their filesystem. */
    linksDir: string;
    logFile: string;
    restoreScript: string;
    /** pg_ctl -D argument: the data directory, or the side config directory (Debian). */
    ctlDir: string;
    startCommand: string;
    /** psql onto the paused side instance, for a reviewer or operator to look. */
    psqlCommand: string;
    parallelism: number;
  };
  paths: {
    /** <dataDir>.pre-pitr-<run id>: production's data directory after finalize. */
    aside: string;
    /** <dataDir>.recovered-<run id>: the recovered directory after a rollback. */
    recovered: string;
    /** The safety pg_dump, or null when the plan turns it off. */
    dump: string | null;
    /** The database rollback --from-dump restores into. */
    dumpDatabase: string;
  };
  /** Commands finalize and rollback run to swap data directories. */
  swap: { moveAside: string; moveIn: string; rollbackMoveRecovered: string; rollbackMoveBack: string };
  runtime: {
    /** What stop-services records, what it stops, what finalize/rollback start. */
    record: string[];
    stop: string[];
    start: string[];
  };
  phases: { file: string; title: string; destructive: boolean }[];
  verify: string[];
  /** The plan's verification queries, SQL included. */
  queries: { name: string; sql: string; expect: string }[];
  drainTimeoutSeconds: number;
  startTimeoutSeconds: number;
  /** recovery.diskReserve as written, or the default rule in words. */
  diskReserve: string;
  /** What the plan's lock file pins (backup, WAL range, objects); null without a lock. */
  pinned: RunbookPinned | null;
}

/**
 * The runbook's view of a lock file (`pitr resolve`): real positions and times for the
 * timeline diagram. Pure data; see runbookPinnedFromLock.
 */
export interface RunbookPinned {
  backupId: string;
  startLsn: string;
  stopLsn: string;
  startWalFile: string;
  /** As the backup history file wrote it (the primary's log_timezone). */
  stopTime: string;
  /** The same instant in UTC, or null when the zone abbreviation left it uncertain. */
  stopTimeUtc: string | null;
  /** The timeline the backup started on. */
  backupTimeline: number;
  targetTimeline: number;
  /** The base backup's objects as pinned: key, size, and ETag (S3) or sha256 (local). */
  baseObjects: { key: string; size: number; fingerprint: string }[];
  /** How many objects of each kind the scripts check against the lock. */
  objectCounts: { base: number; history: number; wal: number };
  walFirst: string;
  walLast: string;
  walSegments: number;
  /** Why the WAL range ends where it does (archive-end, gap, target-lsn, backup-end). */
  walEndsAt: string;
  /** Time targets: the newest transaction end found at the end of the range. */
  latestTransactionTime: string | null;
  warnings: string[];
}

/** The part of a lock file the runbook shows. Pure. */
export function runbookPinnedFromLock(lock: LockFile): RunbookPinned {
  return {
    backupId: lock.backup.id,
    startLsn: lock.backup.startLsn,
    stopLsn: lock.backup.stopLsn,
    startWalFile: lock.backup.startWalFile,
    stopTime: lock.backup.stopTime,
    stopTimeUtc: lock.backup.stopTimeUtc,
    backupTimeline: lock.backup.startTimeline,
    targetTimeline: lock.targetTimeline,
    baseObjects: lock.objects.base.map((o) => ({
      key: o.key,
      size: o.size,
      fingerprint: o.etag !== undefined ? `ETag ${o.etag}` : `sha256 ${o.sha256 ?? ''}`,
    })),
    // The backup's own .backup file is checked too: it counts as a history file.
    objectCounts: { base: lock.objects.base.length, history: lock.objects.history.length + 1, wal: lock.objects.wal.length },
    walFirst: lock.walRange.first,
    walLast: lock.walRange.last,
    walSegments: lock.walRange.segments,
    walEndsAt: lock.walRange.endsAt,
    latestTransactionTime: lock.walRange.latestTransactionTime,
    warnings: [...lock.warnings],
  };
}

export const PHASES = [
  { file: '00-preflight', title: 'Preflight: read-only checks of everything later phases rely on', destructive: false },
  { file: '01-assess', title: 'Assess: record row counts and server facts before anything changes', destructive: false },
  { file: '02-stop-services', title: 'Stop services: record what runs, stop the writers, wait for connections to drain', destructive: true },
  { file: '03-safety-backup', title: 'Safety backup: pg_dump of production, checksummed and verified', destructive: false },
  { file: '04-fetch', title: 'Fetch: base backup into workDir, WAL staged in parallel', destructive: false },
  { file: '05-configure', title: 'Configure: recovery settings appended for a side instance on its own port', destructive: false },
  { file: '06-recover', title: 'Recover: side instance replays WAL and pauses at the target', destructive: false },
  { file: '07-verify', title: 'Verify: row counts, nothing after the target, the plan\'s queries', destructive: false },
  { file: '08-finalize', title: 'Finalize: promote, swap data directories (old one kept aside), restart, notify', destructive: true },
] as const;

const SIDE_SUBDIRS = { data: 'data', socket: 'run', staging: 'wal-staging' } as const;

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
  if (walIsStaged(plan, pinned)) return joinPath(plan.recovery.workDir.replace(/\/+$/, ''), SIDE_SUBDIRS.staging);
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
 * recovery.diskReserve for the scripts: DISK_RESERVE_KIND default (the larger of 5% of
 * the filesystem and 2 x max_wal_size), percent (DISK_RESERVE_VALUE in hundredths of a
 * percent) or bytes. Pure: "2.5%" -> percent 250; "2GiB" -> bytes 2147483648.
 */
export function diskReserveConstants(reserve: string | null): Constant[] {
  let kind = 'default';
  let value = '';
  const percent = reserve === null ? null : /^(\d+)(?:\.(\d{1,2}))?%$/.exec(reserve);
  const size = reserve === null ? null : /^(\d+)(MiB|GiB|TiB)$/.exec(reserve);
  if (percent) {
    kind = 'percent';
    value = String(Number(percent[1]) * 100 + Number((percent[2] ?? '').padEnd(2, '0')));
  } else if (size) {
    kind = 'bytes';
    value = (BigInt(size[1]!) * { MiB: 1n << 20n, GiB: 1n << 30n, TiB: 1n << 40n }[size[2] as 'MiB' | 'GiB' | 'TiB']).toString();
  } else if (reserve !== null) {
    throw new Error(`internal: recovery.diskReserve ${reserve} passed the schema but is not a share or a size`);
  }
  return [
    { name: 'DISK_RESERVE_KIND', value: kind, about: 'default (max of 5% of the filesystem, 2 x max_wal_size) | percent | bytes (recovery.diskReserve)' },
    { name: 'DISK_RESERVE_VALUE', value, about: 'hundredths of a percent, or bytes; empty for the default' },
    { name: 'DISK_RESERVE_TEXT', value: reserve ?? 'the larger of 5% of the filesystem and 2 x max_wal_size', about: 'the reserve as the plan says it' },
  ];
}


export function sideSettingsFor(plan: NormalizedPlan, restoreScript: string, socketDir: string, pidFile: string, pinned: boolean): SideSetting[] {
  return sideSettings(plan, { restoreCommand: restoreCommand(restoreScript, restoreFastPathDir(plan, pinned)), socketDir, pidFile });
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

/** A value as an operator would type it: bare when plain, shell-quoted otherwise. */
function word(value: string | number): string {
  const text = String(value);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : shellQuote(text);
}

/** Text already written for the runbook (a placeholder like `<run id>`, a quoted word). */
interface Raw {
  raw: string;
}
const raw = (text: string): Raw => ({ raw: text });

/** A command line for the runbook: values become words, Raw parts stay as they are. */
function command(...parts: (string | number | Raw)[]): string {
  return parts.map((p) => (typeof p === 'object' ? p.raw : word(p))).join(' ');
}

/** A plan path followed by a run-time placeholder: `/data/main.pre-pitr-<run id>`. */
function pathWith(path: string, suffix: string): Raw {
  return raw(`${word(path)}${suffix}`);
}

function joinPath(dir: string, leaf: string): string {
  return `${dir.replace(/\/+$/, '')}/${leaf}`;
}

function describeTarget(plan: NormalizedPlan): string {
  const t = plan.target;
  const what = t.kind === 'immediate' ? 'the end of the base backup (immediate)' : `${t.kind} ${t.value}`;
  return `${what}, ${t.inclusive ? 'inclusive' : 'exclusive'}, timeline ${t.timeline}`;
}

function describeSource(plan: NormalizedPlan): string {
  const s = plan.source;
  const where = s.kind === 's3'
    ? `s3://${s.bucket}/ (region ${s.region}${s.endpoint ? `, endpoint ${s.endpoint}` : ''})`
    : `${s.path}`;
  return `${where}; base backups under ${s.base.prefix || '(root)'} (${s.base.layout}); WAL under ${s.wal.prefix || '(root)'} (compression ${s.wal.compression})`;
}

function describeServices(plan: NormalizedPlan): string {
  const r = plan.runtime;
  if (r.kind === 'docker') return `docker compose (${r.compose.command.join(' ')} -f ${r.compose.file}): ${r.compose.services.join(', ')}`;
  if (r.kind === 'k8s') return `kubectl --context ${r.k8s.context} --namespace ${r.k8s.namespace}: deployments ${r.k8s.deployments.join(', ')}`;
  return 'none (no application runtime is stopped or started)';
}

/**
 * Builds the model the templates render. Pure: same plan (and lock) → same model. A
 * lock (already checked against the plan, see readLockFor) pins the backup, the target
 * timeline and every object; its object list itself goes to lib/pinned.tsv.
 */
export function buildModel(
  plan: NormalizedPlan,
  planSha256: string,
  compilerVersion: string,
  lock: LockFile | null = null,
): ScriptModel {
  const pg = plan.postgres;
  const src = plan.source;
  const rec = plan.recovery;
  const workDir = rec.workDir.replace(/\/+$/, '');
  const sideDataDir = joinPath(workDir, SIDE_SUBDIRS.data);
  const socketDir = joinPath(workDir, SIDE_SUBDIRS.socket);
  const restoreScript = joinPath(workDir, 'bin/restore-wal.sh');
  const sidePidFile = joinPath(workDir, 'side-instance.pid');
  const runtime = plan.runtime;
  const service = pg.service;

  const c = (name: string, value: string | number | boolean | null, about: string): Constant => ({
    name,
    value: value === null ? '' : typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value),
    about,
  });
  const a = (name: string, values: string[], about: string): Constant => ({ name, values, about });

  const constants: Constant[] = [
    c('PLAN_NAME', plan.name, 'plan name'),
    c('PLAN_SHA256', planSha256, 'sha256 of plan.json'),
    c('TARGET_KIND', plan.target.kind, 'time | xid | lsn | restorePoint | immediate'),
    c('TARGET_VALUE', plan.target.value, 'canonical target (times in UTC)'),
    c('TARGET_EPOCH_US', plan.target.kind === 'time' ? epochMicros(plan.target.value) : '', 'target time in microseconds since 1970 (time targets)'),
    c('TARGET_INCLUSIVE', plan.target.inclusive ? 'on' : 'off', 'replay the target transaction itself?'),
    c('TARGET_TIMELINE', plan.target.timeline, 'latest | current | <number>'),
    c('PG_VERSION', pg.version, 'expected server major version'),
    c('PG_DATABASE', pg.database, 'database to count, verify and dump'),
    c('PG_DATA_DIR', pg.dataDir.replace(/\/+$/, ''), 'production data directory'),
    c('PG_CONFIG_FILE', pg.configFile, 'postgresql.conf outside the data directory (Debian), or empty'),
    c('PG_OS_USER', pg.osUser, 'OS user owning the data directory'),
    c('PG_PORT', pg.port, 'production port'),
    c('PG_HOST', pg.host, 'production socket directory or host'),
    c('PG_SUPERUSER', pg.superuser, 'database role the scripts connect as'),
    c('PG_BIN_DIR', pg.binDir, 'PostgreSQL programs (falls back to PATH)'),
    c('PG_LOG_TIMEZONE', pg.logTimezone, 'the server\'s log_timezone as the plan states it (preflight checks it), or empty'),
    c('SERVICE_KIND', service.kind, 'how production is stopped and started'),
    c('SERVICE_UNIT', service.kind === 'systemd' ? service.unit : '', 'systemd unit'),
    c('SERVICE_CLUSTER', service.kind === 'pg_ctlcluster' ? service.cluster : '', 'pg_ctlcluster VERSION/NAME'),
    c('SERVICE_LOG_FILE', service.kind === 'pg_ctl' ? service.logFile : '', 'pg_ctl -l log file'),
    c('SOURCE_KIND', src.kind, 's3 | local'),
    c('S3_BUCKET', src.bucket, 'bucket'),
    c('S3_REGION', src.region, 'bucket region'),
    c('S3_ENDPOINT', src.endpoint, 'S3-compatible endpoint, or empty for AWS'),
    c('ARCHIVE_PATH', src.path === null ? '' : src.path.replace(/\/+$/, ''), 'local archive root'),
    c('BASE_PREFIX', src.base.prefix, 'prefix of base backups'),
    c('BASE_LAYOUT', src.base.layout, 'tarball | pg_basebackup'),
    c('WAL_PREFIX', src.wal.prefix, 'prefix of the WAL archive'),
    c('WAL_COMPRESSION', src.wal.compression, 'none | gzip | zstd'),
    c('BACKUP_CHOICE', src.backup, 'auto, or an explicit backup id'),
    c('PINNED', lock !== null, 'compiled with a lock file (pitr resolve): only the objects in lib/pinned.tsv are used, each checked'),
    c('PINNED_BACKUP_ID', lock?.backup.id ?? '', 'the backup the lock pins, or empty'),
    c('PINNED_TARGET_TIMELINE', lock?.targetTimeline ?? '', 'the timeline the lock pins, or empty'),
    c('WORK_DIR', workDir, 'scratch directory on the same filesystem as the data directory'),
    c('SIDE_DATA_DIR', sideDataDir, 'the recovered copy'),
    c('SIDE_SOCKET_DIR', socketDir, 'socket directory of the side instance'),
    c('STAGING_DIR', joinPath(workDir, SIDE_SUBDIRS.staging), 'staged WAL, outside pg_wal'),
    c('WAL_STAGED', walIsStaged(plan, lock !== null), 'WAL goes through STAGING_DIR (else an uncompressed local archive is read in place)'),
    c('WAL_FAST_PATH_DIR', restoreFastPathDir(plan, lock !== null), 'where restore_command finds complete WAL files (compiled into it too)'),
    c('SIDE_CONF_DIR', joinPath(workDir, 'side-conf'), 'config directory of the side instance (Debian layout)'),
    c('SIDE_LOG_FILE', joinPath(workDir, 'side-instance.log'), 'log of the side instance'),
    c('RESTORE_SCRIPT', restoreScript, 'restore_command script installed for the side instance'),
    c('ARCHIVE_SNAPSHOT', joinPath(workDir, 'archive-listing.txt'), 'names in the archive when fetch ran'),
    c('SIDE_PORT', rec.port, 'side instance port'),
    c('PARALLELISM', rec.parallelism, 'parallel WAL downloads'),
    c('DRAIN_TIMEOUT_SECONDS', rec.drainTimeoutSeconds, 'wait for client connections to leave'),
    c('START_TIMEOUT_SECONDS', rec.startTimeoutSeconds, 'pg_ctl start/stop timeout'),
    ...diskReserveConstants(rec.diskReserve),
    c('RECOVERY_CONF_BLOCK', recoveryConfBlock(plan, restoreScript, socketDir, sidePidFile, lock !== null), 'appended to the recovered postgresql.auto.conf, removed after promotion'),
    a('SIDE_SETTING_NAMES', sideSettingsFor(plan, restoreScript, socketDir, sidePidFile, lock !== null).map((x) => x.name), 'settings the side instance overrides (preflight shows production\'s values beside them)'),
    a('SIDE_SETTING_VALUES', sideSettingsFor(plan, restoreScript, socketDir, sidePidFile, lock !== null).map((x) => x.value), '... and the side instance\'s values'),
    a('SIDE_SIZED_NAMES', SIZED_SETTINGS.map((x) => x.name), 'settings 05-configure sizes on the host (memory, max_* from pg_control)'),
    c('STALL_TIMEOUT_SECONDS', rec.stallTimeoutSeconds, 'recover stops when the side instance answers no poll or replays nothing for this long'),
    c('SIDE_CONF_TEXT', pg.configFile === null ? '' : sideConfigText(pg.configFile, sideDataDir, sidePidFile), 'postgresql.conf of the side config directory (Debian layout)'),
    c('RUNTIME_KIND', runtime.kind, 'docker | k8s | none'),
    a('COMPOSE_CMD', runtime.kind === 'docker' ? runtime.compose.command : [], 'compose command words'),
    c('COMPOSE_FILE', runtime.kind === 'docker' ? runtime.compose.file : '', 'compose file'),
    a('COMPOSE_SERVICES', runtime.kind === 'docker' ? runtime.compose.services : [], 'services that write to the database'),
    c('K8S_CONTEXT', runtime.kind === 'k8s' ? runtime.k8s.context : '', 'kubectl context'),
    c('K8S_NAMESPACE', runtime.kind === 'k8s' ? runtime.k8s.namespace : '', 'namespace'),
    a('K8S_DEPLOYMENTS', runtime.kind === 'k8s' ? runtime.k8s.deployments : [], 'deployments that write to the database'),
    c('SAFETY_DIR', plan.safetyBackup.dir.replace(/\/+$/, ''), 'where the safety pg_dump goes'),
    c('SAFETY_PG_DUMP', plan.safetyBackup.pgDump, 'take the safety pg_dump?'),
    a('VERIFY_TABLES', plan.verify.rowCounts, 'row counts compared before/after'),
    a('NOT_AFTER_TABLES', plan.verify.notAfterTarget.map((x) => x.table), 'max(column) must be before the target: tables'),
    a('NOT_AFTER_COLUMNS', plan.verify.notAfterTarget.map((x) => x.column), '... and their columns'),
    a('QUERY_NAMES', plan.verify.queries.map((x) => x.name), 'verification queries: names'),
    a('QUERY_SQL', plan.verify.queries.map((x) => x.sql), '... SQL'),
    a('QUERY_EXPECT', plan.verify.queries.map((x) => x.expect), '... expected output'),
    a('HTTP_URLS', plan.verify.http.map((x) => x.url), 'health checks after restart: URLs'),
    a('HTTP_STATUSES', plan.verify.http.map((x) => String(x.status)), '... expected status'),
    a('HTTP_TOKEN_ENVS', plan.verify.http.map((x) => x.bearerTokenEnv ?? ''), '... env var holding a bearer token, or empty'),
    c('SLACK_WEBHOOK_ENV', plan.notify.slack?.webhookUrlEnv ?? '', 'env var holding the Slack webhook URL, or empty'),
  ];

  const is: Record<string, boolean> = {
    s3: src.kind === 's3',
    local: src.kind === 'local',
    tarball: src.base.layout === 'tarball',
    pgBasebackup: src.base.layout === 'pg_basebackup',
    docker: runtime.kind === 'docker',
    k8s: runtime.kind === 'k8s',
    noRuntime: runtime.kind === 'none',
    systemd: service.kind === 'systemd',
    pgCtlCluster: service.kind === 'pg_ctlcluster',
    pgCtl: service.kind === 'pg_ctl',
    debianConfig: pg.configFile !== null,
    timeTarget: plan.target.kind === 'time',
    pgDump: plan.safetyBackup.pgDump,
    slack: plan.notify.slack !== null,
    http: plan.verify.http.length > 0,
    pinned: lock !== null,
    // pg_get_wal_replay_pause_state() exists from 14; 13 has only pg_is_wal_replay_paused().
    pauseStateFunction: pg.version >= 14,
  };

  const runbook = buildRunbook(plan, {
    restoreScript,
    socketDir,
    sideDataDir,
    sidePidFile,
    stagingDir: joinPath(workDir, SIDE_SUBDIRS.staging),
    sideConfDir: joinPath(workDir, 'side-conf'),
    sideLogFile: joinPath(workDir, 'side-instance.log'),
    workDir,
  }, lock === null ? null : runbookPinnedFromLock(lock));

  const views = viewsOf(plan);
  return { planName: plan.name, description: plan.description, planSha256, compilerVersion, constants: constantsForViews(constants, views), is, views, runbook };
}

interface SidePaths {
  workDir: string;
  sideDataDir: string;
  socketDir: string;
  stagingDir: string;
  sideConfDir: string;
  sideLogFile: string;
  restoreScript: string;
  sidePidFile: string;
}

/** Where the archive's objects are, as a reviewer would look for them. */
function archiveFacts(plan: NormalizedPlan): RunbookFacts['archive'] {
  const s = plan.source;
  const root = s.kind === 's3' ? `s3://${s.bucket ?? ''}/` : `${(s.path ?? '').replace(/\/+$/, '')}/`;
  const base = `${root}${s.base.prefix}`;
  const suffix = { none: '', gzip: '.gz', zstd: '.zst' }[s.wal.compression];
  const readCommand = s.kind === 's3'
    ? command('aws', '--region', s.region ?? '', ...(s.endpoint ? ['--endpoint-url', s.endpoint] : []), 's3', 'cp', '--only-show-errors', pathWith(`s3://${s.bucket ?? ''}/`, '<key>'), '-')
    : command('cat', '--', pathWith(root, '<key>'));
  return {
    baseObjects: s.base.layout === 'tarball'
      ? [`${base}<id>.tar.gz`, `${base}<id>/backup_label`]
      : [`${base}<id>/base.tar.gz`, `${base}<id>/pg_wal.tar.gz`, `${base}<id>/backup_manifest`],
    walObjects: `${root}${s.wal.prefix}<segment>${suffix}`,
    readCommand,
  };
}

function serviceCommands(plan: NormalizedPlan): { stop: string; start: string } {
  const pg = plan.postgres;
  const svc = pg.service;
  const dataDir = pg.dataDir.replace(/\/+$/, '');
  const pgCtl = joinPath(pg.binDir, 'pg_ctl');
  const timeout = plan.recovery.startTimeoutSeconds;
  switch (svc.kind) {
    case 'systemd':
      return { stop: command('systemctl', 'stop', svc.unit), start: command('systemctl', 'start', svc.unit) };
    case 'pg_ctlcluster': {
      // VERSION/NAME, split as the scripts do: ${SERVICE_CLUSTER%%/*} and ${SERVICE_CLUSTER#*/}.
      const slash = svc.cluster.indexOf('/');
      const version = svc.cluster.slice(0, slash);
      const name = svc.cluster.slice(slash + 1);
      return { stop: command('pg_ctlcluster', version, name, 'stop', '-m', 'fast'), start: command('pg_ctlcluster', version, name, 'start') };
    }
    case 'pg_ctl':
      return {
        stop: command('runuser', '-u', pg.osUser, '--', pgCtl, '-D', dataDir, '-m', 'fast', '-w', '-t', timeout, 'stop'),
        start: command('runuser', '-u', pg.osUser, '--', pgCtl, '-D', dataDir, ...(svc.logFile ? ['-l', svc.logFile] : []), '-w', '-t', timeout, 'start'),
      };
  }
}

function runtimeCommands(plan: NormalizedPlan): RunbookFacts['runtime'] {
  const r = plan.runtime;
  if (r.kind === 'docker') {
    const compose = [...r.compose.command, '-f', r.compose.file];
    return {
      record: [command(...compose, 'ps', '--services', '--status', 'running')],
      stop: [command(...compose, 'stop', raw('<recorded services>'))],
      start: [command(...compose, 'start', raw('<recorded services>'))],
    };
  }
  if (r.kind === 'k8s') {
    const kube = ['kubectl', '--context', r.k8s.context, '--namespace', r.k8s.namespace];
    return {
      record: [
        ...r.k8s.deployments.map((d) => command(...kube, 'get', 'deployment', d, '-o', 'jsonpath={.spec.replicas}')),
        command(...kube, 'get', 'hpa'),
      ],
      stop: r.k8s.deployments.map((d) => command(...kube, 'scale', 'deployment', d, '--replicas=0')),
      start: r.k8s.deployments.map((d) => command(...kube, 'scale', 'deployment', d, raw('--replicas=<recorded count>'))),
    };
  }
  return { record: [], stop: [], start: [] };
}

/** RUNBOOK.md's facts. Pure: same plan (and pin) → same facts. */
function buildRunbook(plan: NormalizedPlan, side: SidePaths, pinned: RunbookPinned | null): RunbookFacts {
  const pg = plan.postgres;
  const t = plan.target;
  const dataDir = pg.dataDir.replace(/\/+$/, '');
  const services = serviceCommands(plan);
  const ctlDir = pg.configFile === null ? side.sideDataDir : side.sideConfDir;
  const aside = pathWith(dataDir, '.pre-pitr-<run id>');
  const recovered = pathWith(dataDir, '.recovered-<run id>');
  const safetyDir = plan.safetyBackup.dir.replace(/\/+$/, '');
  return {
    target: describeTarget(plan),
    targetWritten: t.written,
    targetKind: t.kind,
    targetValue: t.value,
    targetIs: { time: t.kind === 'time', xid: t.kind === 'xid', lsn: t.kind === 'lsn', restorePoint: t.kind === 'restorePoint', immediate: t.kind === 'immediate' },
    inclusive: t.inclusive,
    timeline: t.timeline,
    source: describeSource(plan),
    archive: archiveFacts(plan),
    backupChoice: plan.source.backup === 'auto'
      ? 'auto: the newest backup whose STOP TIME (from the archive\'s .backup files) is strictly before the target, chosen by preflight at run time'
      : `explicit: ${plan.source.backup}`,
    backupAuto: plan.source.backup === 'auto',
    backupId: plan.source.backup === 'auto' ? null : plan.source.backup,
    recoveryConf: recoveryConfBlock(plan, side.restoreScript, side.socketDir, side.sidePidFile, pinned !== null),
    sideSettings: sideSettingsFor(plan, side.restoreScript, side.socketDir, side.sidePidFile, pinned !== null).map(({ name, conf, why }) => ({ name, value: conf, why })),
    sizedSettings: SIZED_SETTINGS.map((x) => ({ ...x })),
    stallTimeoutSeconds: plan.recovery.stallTimeoutSeconds,
    services: describeServices(plan),
    server: {
      version: pg.version,
      database: pg.database,
      dataDir,
      configFile: pg.configFile,
      osUser: pg.osUser,
      superuser: pg.superuser,
      port: pg.port,
      host: pg.host,
      binDir: pg.binDir,
      stopCommand: services.stop,
      startCommand: services.start,
    },
    side: {
      port: plan.recovery.port,
      workDir: side.workDir,
      dataDir: side.sideDataDir,
      socketDir: side.socketDir,
      stagingDir: side.stagingDir,
      linksDir: joinPath(side.workDir, 'links'),
      logFile: side.sideLogFile,
      restoreScript: side.restoreScript,
      ctlDir,
      startCommand: command('runuser', '-u', pg.osUser, '--', joinPath(pg.binDir, 'pg_ctl'), '-D', ctlDir, '-l', side.sideLogFile, '-w', '-t', plan.recovery.startTimeoutSeconds, 'start'),
      psqlCommand: command('psql', '-h', side.socketDir, '-p', plan.recovery.port, '-U', pg.superuser, '-d', pg.database),
      parallelism: plan.recovery.parallelism,
    },
    paths: {
      aside: aside.raw,
      recovered: recovered.raw,
      dump: plan.safetyBackup.pgDump ? pathWith(`${safetyDir}/${plan.name}`, '-pre-pitr-<run id>.dump').raw : null,
      dumpDatabase: `${pg.database}_pre_pitr`,
    },
    swap: {
      moveAside: command('mv', '-T', '--', dataDir, aside),
      moveIn: command('mv', '-T', '--', side.sideDataDir, dataDir),
      rollbackMoveRecovered: command('mv', '-T', '--', dataDir, recovered),
      rollbackMoveBack: command('mv', '-T', '--', aside, dataDir),
    },
    runtime: runtimeCommands(plan),
    phases: PHASES.map((p) => ({ ...p })),
    verify: [
      ...plan.verify.rowCounts.map((x) => `row count of ${x} (before and after, side by side)`),
      ...plan.verify.notAfterTarget.map((x) => `max(${x.column}) of ${x.table} is before the target`),
      ...plan.verify.queries.map((q) => `${q.name}: expects ${JSON.stringify(q.expect)}`),
      ...plan.verify.http.map((h) => `after restart: GET ${h.url} answers ${h.status}`),
    ],
    queries: plan.verify.queries.map((q) => ({ ...q })),
    drainTimeoutSeconds: plan.recovery.drainTimeoutSeconds,
    startTimeoutSeconds: plan.recovery.startTimeoutSeconds,
    diskReserve: plan.recovery.diskReserve ?? 'the larger of 5% of the filesystem and 2 x max_wal_size',
    pinned,
  };
}
