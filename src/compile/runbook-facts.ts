/**
 * The facts RUNBOOK.md prints, for a reviewer reading a plan's pull request and for the
 * operator at the host: what the plan targets, where the archive is, the commands the
 * scripts run (as an operator would type them), and what a lock pins. Pure.
 */
import type { LockFile } from '../archive/lock.js';
import type { NormalizedPlan, TargetKind } from '../plan/normalized.js';
import { joinPath, recoveryConfBlock, sideSettingsFor, type SidePaths } from './recovery-config.js';
import { shellQuote } from './shell.js';
import { SIZED_SETTINGS } from './side-settings.js';

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
  phases: RunbookPhase[];
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

/** A phase script as the runbook lists it; model.ts owns the list (PHASES). */
export interface RunbookPhase {
  file: string;
  title: string;
  destructive: boolean;
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
export function buildRunbook(plan: NormalizedPlan, side: SidePaths, pinned: RunbookPinned | null, phases: readonly RunbookPhase[]): RunbookFacts {
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
    phases: phases.map((p) => ({ ...p })),
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
