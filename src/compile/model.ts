import type { NormalizedPlan } from '../plan/normalized.js';
import { confQuote, shellQuote } from './shell.js';

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
  /** For RUNBOOK.md only (markdown, not shell). */
  runbook: RunbookFacts;
}

export interface RunbookFacts {
  target: string;
  targetWritten: string | null;
  source: string;
  backupChoice: string;
  recoveryConf: string;
  services: string;
  phases: { file: string; title: string; destructive: boolean }[];
  verify: string[];
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

/** The settings appended to the recovered copy's postgresql.auto.conf for the side instance. */
export function recoveryConfBlock(plan: NormalizedPlan, restoreScript: string, socketDir: string, pidFile: string): string {
  const t = plan.target;
  const lines: string[] = [];
  // restore_command runs through /bin/sh: the script path is a shell word inside a conf string.
  // PostgreSQL expands %f/%p/%r and %% anywhere in the command: a literal % is doubled.
  lines.push(`restore_command = ${confQuote(`${shellQuote(restoreScript).replaceAll('%', '%%')} %f %p`)}`);
  switch (t.kind) {
    case 'time': lines.push(`recovery_target_time = ${confQuote(t.value)}`); break;
    case 'xid': lines.push(`recovery_target_xid = ${confQuote(t.value)}`); break;
    case 'lsn': lines.push(`recovery_target_lsn = ${confQuote(t.value)}`); break;
    case 'restorePoint': lines.push(`recovery_target_name = ${confQuote(t.value)}`); break;
    case 'immediate': lines.push(`recovery_target = 'immediate'`); break;
  }
  if (t.kind !== 'immediate') lines.push(`recovery_target_inclusive = ${t.inclusive ? 'on' : 'off'}`);
  lines.push(`recovery_target_timeline = ${confQuote(t.timeline)}`);
  // pause, never promote: verification happens while paused; only finalize promotes.
  lines.push(`recovery_target_action = 'pause'`);
  // The backup carries production's settings; the side instance must not collide with it.
  lines.push(`port = ${plan.recovery.port}`);
  lines.push(`listen_addresses = ''`);
  lines.push(`unix_socket_directories = ${confQuote(socketDir)}`);
  lines.push(`archive_mode = off`);
  lines.push(`archive_command = ''`);
  // Production's config may name an external pid file (Debian does): never overwrite it.
  lines.push(`external_pid_file = ${confQuote(pidFile)}`);
  // Without hot_standby, pause at the target acts as shutdown (PostgreSQL 14+).
  lines.push(`hot_standby = on`);
  // Keep every log line in the one file the recover phase reads for diagnosis.
  lines.push(`logging_collector = off`);
  return lines.join('\n');
}

/** Debian layout: a config directory for pg_ctl -D that includes production's config
 *  but points data_directory at the recovered copy. */
export function sideConfigText(configFile: string, sideDataDir: string, pidFile: string): string {
  return [
    `include ${confQuote(configFile)}`,
    `data_directory = ${confQuote(sideDataDir)}`,
    `external_pid_file = ${confQuote(pidFile)}`,
  ].join('\n');
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

/** Builds the model the templates render. Pure: same plan → same model. */
export function buildModel(plan: NormalizedPlan, planSha256: string, compilerVersion: string): ScriptModel {
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
    c('WORK_DIR', workDir, 'scratch directory on the same filesystem as the data directory'),
    c('SIDE_DATA_DIR', sideDataDir, 'the recovered copy'),
    c('SIDE_SOCKET_DIR', socketDir, 'socket directory of the side instance'),
    c('STAGING_DIR', joinPath(workDir, SIDE_SUBDIRS.staging), 'staged WAL, outside pg_wal'),
    c('SIDE_CONF_DIR', joinPath(workDir, 'side-conf'), 'config directory of the side instance (Debian layout)'),
    c('SIDE_LOG_FILE', joinPath(workDir, 'side-instance.log'), 'log of the side instance'),
    c('RESTORE_SCRIPT', restoreScript, 'restore_command script installed for the side instance'),
    c('ARCHIVE_SNAPSHOT', joinPath(workDir, 'archive-listing.txt'), 'names in the archive when fetch ran'),
    c('SIDE_PORT', rec.port, 'side instance port'),
    c('PARALLELISM', rec.parallelism, 'parallel WAL downloads'),
    c('DRAIN_TIMEOUT_SECONDS', rec.drainTimeoutSeconds, 'wait for client connections to leave'),
    c('START_TIMEOUT_SECONDS', rec.startTimeoutSeconds, 'pg_ctl start/stop timeout'),
    c('RECOVERY_CONF_BLOCK', recoveryConfBlock(plan, restoreScript, socketDir, sidePidFile), 'appended to the recovered postgresql.auto.conf, removed after promotion'),
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
  };

  const runbook: RunbookFacts = {
    target: describeTarget(plan),
    targetWritten: plan.target.written,
    source: describeSource(plan),
    backupChoice: src.backup === 'auto'
      ? 'auto: the newest backup whose STOP TIME (from the archive\'s .backup files) is strictly before the target, chosen by preflight at run time'
      : `explicit: ${src.backup}`,
    recoveryConf: recoveryConfBlock(plan, restoreScript, socketDir, sidePidFile),
    services: describeServices(plan),
    phases: PHASES.map((p) => ({ ...p })),
    verify: [
      ...plan.verify.rowCounts.map((t) => `row count of ${t} (before and after, side by side)`),
      ...plan.verify.notAfterTarget.map((x) => `max(${x.column}) of ${x.table} is before the target`),
      ...plan.verify.queries.map((q) => `${q.name}: expects ${JSON.stringify(q.expect)}`),
      ...plan.verify.http.map((h) => `after restart: GET ${h.url} answers ${h.status}`),
    ],
  };

  return { planName: plan.name, description: plan.description, planSha256, compilerVersion, constants, is, runbook };
}
