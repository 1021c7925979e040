/**
 * A validated plan with every default applied and every optional block present, in
 * the key order of NormalizedPlan: plan.json is written from this object and must be
 * byte-identical from run to run. Defaults live here (and in defaults.ts), never in
 * templates.
 *
 * Input must have passed validation; a plan that did not is a bug in the caller and
 * raises InternalError rather than producing a half-normalized plan.
 */
import { DEFAULTS, defaultBinDir } from './defaults.js';
import { InternalError } from './findings.js';
import type { NormalizedPlan, NormalizedTarget, Runtime, ServiceControl } from './normalized.js';
import { canonicalPath } from './paths.js';
import { targetKindsOf } from './semantic-rules.js';
import { parseTargetTime } from './time.js';
import type { PitrPlan } from './types.generated.js';

type RawPostgres = PitrPlan['postgres'];
type RawSource = PitrPlan['source'];

export function normalizePlan(raw: PitrPlan): NormalizedPlan {
  return {
    version: raw.version,
    name: raw.name,
    description: raw.description ?? '',
    target: normalizeTarget(raw.target),
    postgres: normalizePostgres(raw.postgres),
    source: normalizeSource(raw.source),
    recovery: normalizeRecovery(raw.recovery),
    runtime: normalizeRuntime(raw.runtime),
    safetyBackup: normalizeSafetyBackup(raw.safetyBackup),
    verify: normalizeVerify(raw.verify),
    notify: { slack: raw.notify?.slack ? { webhookUrlEnv: raw.notify.slack.webhookUrlEnv } : null },
  };
}

function normalizeTarget(target: PitrPlan['target']): NormalizedTarget {
  const kinds = targetKindsOf(target);
  const [kind] = kinds;
  if (kind === undefined || kinds.length > 1) {
    throw new InternalError(`normalizePlan: target must set exactly one kind, got ${kinds.length}`);
  }
  return {
    kind,
    value: targetValue(kind, target),
    written: target.time ?? null,
    inclusive: target.inclusive ?? DEFAULTS.inclusive,
    timeline: target.timeline === undefined ? DEFAULTS.timeline : String(target.timeline),
  };
}

function targetValue(kind: NormalizedTarget['kind'], target: PitrPlan['target']): string {
  switch (kind) {
    case 'time':
      return canonicalTime(target.time ?? '');
    case 'xid':
      return String(target.xid);
    case 'lsn':
      // pg_lsn prints upper case; the compiler compares LSNs as text.
      return (target.lsn ?? '').toUpperCase();
    case 'restorePoint':
      return target.restorePoint ?? '';
    case 'immediate':
      return '';
  }
}

function canonicalTime(written: string): string {
  const parsed = parseTargetTime(written);
  if (!parsed.ok) throw new InternalError(`normalizePlan: unvalidated target time: ${parsed.message}`);
  return parsed.canonical;
}

function normalizePostgres(postgres: RawPostgres): NormalizedPlan['postgres'] {
  return {
    version: postgres.version,
    database: postgres.database,
    dataDir: canonicalPath(postgres.dataDir),
    configFile: optionalPath(postgres.configFile),
    osUser: postgres.osUser ?? DEFAULTS.osUser,
    port: postgres.port ?? DEFAULTS.postgresPort,
    // host may be a name rather than a path, so it is kept as written.
    host: postgres.host ?? DEFAULTS.host,
    superuser: postgres.superuser ?? DEFAULTS.superuser,
    binDir: canonicalPath(postgres.binDir ?? defaultBinDir(postgres.version)),
    service: normalizeService(postgres.service),
  };
}

function normalizeService(service: RawPostgres['service']): ServiceControl {
  switch (service.kind) {
    case 'systemd':
      return { kind: 'systemd', unit: required(service.unit, 'postgres.service.unit') };
    case 'pg_ctlcluster':
      return { kind: 'pg_ctlcluster', cluster: required(service.cluster, 'postgres.service.cluster') };
    case 'pg_ctl':
      return { kind: 'pg_ctl', logFile: optionalPath(service.logFile) };
  }
}

function normalizeSource(source: RawSource): NormalizedPlan['source'] {
  if (source.kind === 'gcs') throw new InternalError('normalizePlan: source kind gcs is not supported');
  const isS3 = source.kind === 's3';
  return {
    kind: source.kind,
    bucket: isS3 ? required(source.bucket, 'source.bucket') : null,
    region: isS3 ? (source.region ?? DEFAULTS.s3Region) : null,
    endpoint: isS3 ? (source.endpoint ?? null) : null,
    path: isS3 ? null : canonicalPath(required(source.path, 'source.path')),
    base: {
      prefix: withTrailingSlash(source.base?.prefix ?? DEFAULTS.basePrefix),
      layout: source.base?.layout ?? DEFAULTS.baseLayout,
    },
    wal: {
      prefix: withTrailingSlash(source.wal?.prefix ?? DEFAULTS.walPrefix),
      compression: source.wal?.compression ?? DEFAULTS.walCompression,
    },
    backup: source.backup ?? DEFAULTS.backup,
  };
}

/** "" stays "" (objects at the root of the bucket or directory); "base" becomes "base/". */
function withTrailingSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

function normalizeRecovery(recovery: PitrPlan['recovery']): NormalizedPlan['recovery'] {
  return {
    workDir: canonicalPath(recovery.workDir),
    port: recovery.port ?? DEFAULTS.recoveryPort,
    parallelism: recovery.parallelism ?? DEFAULTS.parallelism,
    drainTimeoutSeconds: recovery.drainTimeoutSeconds ?? DEFAULTS.drainTimeoutSeconds,
    startTimeoutSeconds: recovery.startTimeoutSeconds ?? DEFAULTS.startTimeoutSeconds,
    stallTimeoutSeconds: recovery.stallTimeoutSeconds ?? DEFAULTS.stallTimeoutSeconds,
  };
}

function normalizeRuntime(runtime: PitrPlan['runtime']): Runtime {
  const kind = runtime?.kind ?? DEFAULTS.runtimeKind;
  switch (kind) {
    case 'docker': {
      const compose = required(runtime?.compose, 'runtime.compose');
      return {
        kind: 'docker',
        compose: {
          // The schema allows single spaces only, so splitting gives exactly the words typed.
          command: (compose.command ?? DEFAULTS.composeCommand).split(' '),
          file: canonicalPath(compose.file),
          services: [...compose.services],
        },
      };
    }
    case 'k8s': {
      const k8s = required(runtime?.k8s, 'runtime.k8s');
      return {
        kind: 'k8s',
        k8s: { context: k8s.context, namespace: k8s.namespace, deployments: [...k8s.deployments] },
      };
    }
    case 'none':
      return { kind: 'none' };
  }
}

function normalizeSafetyBackup(safetyBackup: PitrPlan['safetyBackup']): NormalizedPlan['safetyBackup'] {
  return {
    dir: canonicalPath(safetyBackup?.dir ?? DEFAULTS.safetyBackupDir),
    pgDump: safetyBackup?.pgDump ?? DEFAULTS.safetyBackupPgDump,
  };
}

function normalizeVerify(verify: PitrPlan['verify']): NormalizedPlan['verify'] {
  return {
    rowCounts: [...(verify?.rowCounts ?? [])],
    notAfterTarget: (verify?.notAfterTarget ?? []).map(({ table, column }) => ({ table, column })),
    queries: (verify?.queries ?? []).map(({ name, sql, expect }) => ({ name, sql, expect })),
    http: (verify?.http ?? []).map(({ url, status, bearerTokenEnv }) => ({
      url,
      status: status ?? DEFAULTS.httpStatus,
      bearerTokenEnv: bearerTokenEnv ?? null,
    })),
  };
}

function optionalPath(path: string | undefined): string | null {
  return path === undefined ? null : canonicalPath(path);
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new InternalError(`normalizePlan: ${field} is missing; the plan was not validated`);
  return value;
}
