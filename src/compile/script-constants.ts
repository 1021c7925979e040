/**
 * The readonly bash constants at the top of lib/common.sh: every plan value the scripts
 * read, each with a comment. Pure: same plan (and lock) → same constants, in the
 * same order (the order is the file's order, grouped by what the values are about).
 */
import type { LockFile } from '../archive/lock.js';
import type { NormalizedPlan } from '../plan/normalized.js';
import {
  epochMicros,
  joinPath,
  restoreFastPathDir,
  sideConfigText,
  sideSettingsFor,
  walIsStaged,
  type SidePaths,
} from './recovery-config.js';
import { SIZED_SETTINGS, sideSettingsText } from './side-settings.js';

/** A readonly bash constant: a scalar, or an array when `values` is set. */
export interface Constant {
  name: string;
  value?: string;
  values?: string[];
  /** Shown as a comment above the constant. */
  about: string;
}

/** A scalar constant; bash reads booleans as the words true/false and null as empty. */
function scalar(name: string, value: string | number | boolean | null, about: string): Constant {
  return {
    name,
    value: value === null ? '' : typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value),
    about,
  };
}

function array(name: string, values: string[], about: string): Constant {
  return { name, values, about };
}

/** Every constant the scripts read, in the order lib/common.sh declares them. */
export function scriptConstants(plan: NormalizedPlan, planSha256: string, lock: LockFile | null, side: SidePaths): Constant[] {
  return [
    scalar('PLAN_NAME', plan.name, 'plan name'),
    scalar('PLAN_SHA256', planSha256, 'sha256 of plan.json'),
    ...targetConstants(plan),
    ...serverConstants(plan),
    ...sourceConstants(plan, lock),
    ...sideInstanceConstants(plan, lock, side),
    ...runtimeConstants(plan),
    ...checkConstants(plan),
  ];
}

function targetConstants(plan: NormalizedPlan): Constant[] {
  const t = plan.target;
  return [
    scalar('TARGET_KIND', t.kind, 'time | xid | lsn | restorePoint | immediate'),
    scalar('TARGET_VALUE', t.value, 'canonical target (times in UTC)'),
    scalar('TARGET_EPOCH_US', t.kind === 'time' ? epochMicros(t.value) : '', 'target time in microseconds since 1970 (time targets)'),
    scalar('TARGET_INCLUSIVE', t.inclusive ? 'on' : 'off', 'replay the target transaction itself?'),
    scalar('TARGET_TIMELINE', t.timeline, 'latest | current | <number>'),
  ];
}

/** Production: the server and how it is stopped and started. */
function serverConstants(plan: NormalizedPlan): Constant[] {
  const pg = plan.postgres;
  const service = pg.service;
  return [
    scalar('PG_VERSION', pg.version, 'expected server major version'),
    scalar('PG_DATABASE', pg.database, 'database to count, verify and dump'),
    scalar('PG_DATA_DIR', pg.dataDir.replace(/\/+$/, ''), 'production data directory'),
    scalar('PG_CONFIG_FILE', pg.configFile, 'postgresql.conf outside the data directory (Debian), or empty'),
    scalar('PG_OS_USER', pg.osUser, 'OS user owning the data directory'),
    scalar('PG_PORT', pg.port, 'production port'),
    scalar('PG_HOST', pg.host, 'production socket directory or host'),
    scalar('PG_SUPERUSER', pg.superuser, 'database role the scripts connect as'),
    scalar('PG_BIN_DIR', pg.binDir, 'PostgreSQL programs (falls back to PATH)'),
    scalar('PG_LOG_TIMEZONE', pg.logTimezone, 'the server\'s log_timezone as the plan states it (preflight checks it), or empty'),
    scalar('SERVICE_KIND', service.kind, 'how production is stopped and started'),
    scalar('SERVICE_UNIT', service.kind === 'systemd' ? service.unit : '', 'systemd unit'),
    scalar('SERVICE_CLUSTER', service.kind === 'pg_ctlcluster' ? service.cluster : '', 'pg_ctlcluster VERSION/NAME'),
    scalar('SERVICE_LOG_FILE', service.kind === 'pg_ctl' ? service.logFile : '', 'pg_ctl -l log file'),
  ];
}

/** The archive, and what a lock pins in it. */
function sourceConstants(plan: NormalizedPlan, lock: LockFile | null): Constant[] {
  const src = plan.source;
  return [
    scalar('SOURCE_KIND', src.kind, 's3 | local'),
    scalar('S3_BUCKET', src.bucket, 'bucket'),
    scalar('S3_REGION', src.region, 'bucket region'),
    scalar('S3_ENDPOINT', src.endpoint, 'S3-compatible endpoint, or empty for AWS'),
    scalar('ARCHIVE_PATH', src.path === null ? '' : src.path.replace(/\/+$/, ''), 'local archive root'),
    scalar('BASE_PREFIX', src.base.prefix, 'prefix of base backups'),
    scalar('BASE_LAYOUT', src.base.layout, 'tarball | pg_basebackup'),
    scalar('WAL_PREFIX', src.wal.prefix, 'prefix of the WAL archive'),
    scalar('WAL_COMPRESSION', src.wal.compression, 'none | gzip | zstd'),
    scalar('BACKUP_CHOICE', src.backup, 'auto, or an explicit backup id'),
    scalar('PINNED', lock !== null, 'compiled with a lock file (pitr resolve): only the objects in lib/pinned.tsv are used, each checked'),
    scalar('PINNED_BACKUP_ID', lock?.backup.id ?? '', 'the backup the lock pins, or empty'),
    scalar('PINNED_TARGET_TIMELINE', lock?.targetTimeline ?? '', 'the timeline the lock pins, or empty'),
  ];
}

/** The side instance: its files under workDir, its settings, its limits. */
function sideInstanceConstants(plan: NormalizedPlan, lock: LockFile | null, side: SidePaths): Constant[] {
  const rec = plan.recovery;
  const pinned = lock !== null;
  const configFile = plan.postgres.configFile;
  const settings = sideSettingsFor(plan, side.restoreScript, side.socketDir, side.sidePidFile, pinned);
  return [
    scalar('WORK_DIR', side.workDir, 'scratch directory on the same filesystem as the data directory'),
    scalar('SIDE_DATA_DIR', side.sideDataDir, 'the recovered copy'),
    scalar('SIDE_SOCKET_DIR', side.socketDir, 'socket directory of the side instance'),
    scalar('STAGING_DIR', side.stagingDir, 'staged WAL, outside pg_wal'),
    scalar('WAL_STAGED', walIsStaged(plan, pinned), 'WAL goes through STAGING_DIR (else an uncompressed local archive is read in place)'),
    scalar('WAL_FAST_PATH_DIR', restoreFastPathDir(plan, pinned), 'where restore_command finds complete WAL files (compiled into it too)'),
    scalar('SIDE_CONF_DIR', side.sideConfDir, 'config directory of the side instance (Debian layout)'),
    scalar('SIDE_LOG_FILE', side.sideLogFile, 'log of the side instance'),
    scalar('RESTORE_SCRIPT', side.restoreScript, 'restore_command script installed for the side instance'),
    scalar('ARCHIVE_SNAPSHOT', joinPath(side.workDir, 'archive-listing.txt'), 'names in the archive when fetch ran'),
    scalar('SIDE_PORT', rec.port, 'side instance port'),
    scalar('PARALLELISM', rec.parallelism, 'parallel WAL downloads'),
    scalar('DRAIN_TIMEOUT_SECONDS', rec.drainTimeoutSeconds, 'wait for client connections to leave'),
    scalar('START_TIMEOUT_SECONDS', rec.startTimeoutSeconds, 'pg_ctl start/stop timeout'),
    ...diskReserveConstants(rec.diskReserve),
    // recoveryConfBlock's text, from the settings computed once here.
    scalar('RECOVERY_CONF_BLOCK', sideSettingsText(settings), 'appended to the recovered postgresql.auto.conf, removed after promotion'),
    array('SIDE_SETTING_NAMES', settings.map((x) => x.name), 'settings the side instance overrides (preflight shows production\'s values beside them)'),
    array('SIDE_SETTING_VALUES', settings.map((x) => x.value), '... and the side instance\'s values'),
    array('SIDE_SIZED_NAMES', SIZED_SETTINGS.map((x) => x.name), 'settings 05-configure sizes on the host (memory, max_* from pg_control)'),
    scalar('STALL_TIMEOUT_SECONDS', rec.stallTimeoutSeconds, 'recover stops when the side instance answers no poll or replays nothing for this long'),
    scalar('SIDE_CONF_TEXT', configFile === null ? '' : sideConfigText(configFile, side.sideDataDir, side.sidePidFile), 'postgresql.conf of the side config directory (Debian layout)'),
  ];
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

/** The application runtime whose writers stop-services stops (docker, k8s, or none). */
function runtimeConstants(plan: NormalizedPlan): Constant[] {
  const runtime = plan.runtime;
  return [
    scalar('RUNTIME_KIND', runtime.kind, 'docker | k8s | none'),
    array('COMPOSE_CMD', runtime.kind === 'docker' ? runtime.compose.command : [], 'compose command words'),
    scalar('COMPOSE_FILE', runtime.kind === 'docker' ? runtime.compose.file : '', 'compose file'),
    array('COMPOSE_SERVICES', runtime.kind === 'docker' ? runtime.compose.services : [], 'services that write to the database'),
    scalar('K8S_CONTEXT', runtime.kind === 'k8s' ? runtime.k8s.context : '', 'kubectl context'),
    scalar('K8S_NAMESPACE', runtime.kind === 'k8s' ? runtime.k8s.namespace : '', 'namespace'),
    array('K8S_DEPLOYMENTS', runtime.kind === 'k8s' ? runtime.k8s.deployments : [], 'deployments that write to the database'),
  ];
}

/** The safety dump, the checks after recovery, and who is told. */
function checkConstants(plan: NormalizedPlan): Constant[] {
  const verify = plan.verify;
  return [
    scalar('SAFETY_DIR', plan.safetyBackup.dir.replace(/\/+$/, ''), 'where the safety pg_dump goes'),
    scalar('SAFETY_PG_DUMP', plan.safetyBackup.pgDump, 'take the safety pg_dump?'),
    array('VERIFY_TABLES', verify.rowCounts, 'row counts compared before/after'),
    array('NOT_AFTER_TABLES', verify.notAfterTarget.map((x) => x.table), 'max(column) must be before the target: tables'),
    array('NOT_AFTER_COLUMNS', verify.notAfterTarget.map((x) => x.column), '... and their columns'),
    array('QUERY_NAMES', verify.queries.map((x) => x.name), 'verification queries: names'),
    array('QUERY_SQL', verify.queries.map((x) => x.sql), '... SQL'),
    array('QUERY_EXPECT', verify.queries.map((x) => x.expect), '... expected output'),
    array('HTTP_URLS', verify.http.map((x) => x.url), 'health checks after restart: URLs'),
    array('HTTP_STATUSES', verify.http.map((x) => String(x.status)), '... expected status'),
    array('HTTP_TOKEN_ENVS', verify.http.map((x) => x.bearerTokenEnv ?? ''), '... env var holding a bearer token, or empty'),
    scalar('SLACK_WEBHOOK_ENV', plan.notify.slack?.webhookUrlEnv ?? '', 'env var holding the Slack webhook URL, or empty'),
  ];
}
