/**
 * Rules the schema cannot express (or would express with unreadable errors). They
 * run only on plans that passed the schema, so field types can be trusted. Each rule
 * returns issues whose messages say how to fix the plan.
 */
import { DEFAULTS } from './defaults.js';
import { isSameOrInside, canonicalPath } from './paths.js';
import { parseTargetTime, zoneFormatter } from './time.js';
import type { PitrPlan } from './types.generated.js';
import type { TargetKind } from './normalized.js';

/** A finding before it is placed in the source: where (pointer) and what. */
export interface PlanIssue {
  pointer: string;
  message: string;
  /** Point at the mapping key rather than its value (e.g. a field that must go). */
  atKey?: boolean;
}

type Rule = (plan: PitrPlan) => PlanIssue[];

export const TARGET_KINDS: readonly TargetKind[] = ['time', 'xid', 'lsn', 'restorePoint', 'immediate'];

export function checkSemanticRules(plan: PitrPlan): PlanIssue[] {
  const rules: Rule[] = [
    exactlyOneTarget,
    targetTimeHasZone,
    logTimezoneIsKnown,
    autoBackupNeedsComparableTarget,
    workDirApartFromDataDir,
    safetyBackupDirApart,
    sidePortDiffersFromProduction,
    serviceMatchesKind,
    sourceMatchesKind,
    runtimeMatchesKind,
    valuesAreRepresentable,
  ];
  return rules.flatMap((rule) => rule(plan));
}

/** The target kinds a plan sets (immediate only counts when true, as the schema demands). */
export function targetKindsOf(target: PitrPlan['target']): TargetKind[] {
  return TARGET_KINDS.filter((kind) => target[kind] !== undefined);
}

function exactlyOneTarget(plan: PitrPlan): PlanIssue[] {
  const kinds = targetKindsOf(plan.target);
  if (kinds.length === 0) {
    return [
      {
        pointer: '/target',
        atKey: true,
        message: `target sets no recovery target; set exactly one of ${TARGET_KINDS.join(', ')} (e.g. time: "2024-01-15T14:30:00+00:00")`,
      },
    ];
  }
  if (kinds.length > 1) {
    return [
      {
        pointer: `/target/${kinds[1]}`,
        atKey: true,
        message: `target sets ${kinds.length} recovery targets (${kinds.join(', ')}); PostgreSQL stops at only one, so keep exactly one of them`,
      },
    ];
  }
  return [];
}

function targetTimeHasZone(plan: PitrPlan): PlanIssue[] {
  if (plan.target.time === undefined) return [];
  const parsed = parseTargetTime(plan.target.time);
  return parsed.ok ? [] : [{ pointer: '/target/time', message: parsed.message }];
}

function logTimezoneIsKnown(plan: PitrPlan): PlanIssue[] {
  const zone = plan.postgres.logTimezone;
  if (zone === undefined || zoneFormatter(zone) !== null) return [];
  return [{ pointer: '/postgres/logTimezone', message: `postgres.logTimezone "${zone}" is not a time zone this machine knows; write the server's log_timezone as SHOW log_timezone prints it, an IANA name such as Asia/Kolkata` }];
}

/**
 * Backups record their end as a time and an LSN; an xid or a restore point name
 * cannot be placed relative to them without reading the WAL, so "auto" cannot choose.
 */
function autoBackupNeedsComparableTarget(plan: PitrPlan): PlanIssue[] {
  const kinds = targetKindsOf(plan.target);
  const [kind] = kinds;
  if (kinds.length !== 1 || (kind !== 'xid' && kind !== 'restorePoint')) return [];
  if ((plan.source.backup ?? DEFAULTS.backup) !== 'auto') return [];
  const targetName = kind === 'xid' ? 'an xid target' : 'a restorePoint target';
  return [
    {
      pointer: plan.source.backup === undefined ? '/source' : '/source/backup',
      atKey: plan.source.backup === undefined,
      message:
        `source.backup "auto" picks the newest backup that ended before the target, which cannot be worked out for ${targetName}; ` +
        'name the backup id explicitly (source.backup: <backup label>)',
    },
  ];
}

function workDirApartFromDataDir(plan: PitrPlan): PlanIssue[] {
  const { workDir } = plan.recovery;
  const { dataDir } = plan.postgres;
  const suggestion = `use a sibling directory on the same filesystem, e.g. ${siblingOf(dataDir, 'pitr-recovery')}`;
  if (canonicalPath(workDir) === canonicalPath(dataDir)) {
    return [{ pointer: '/recovery/workDir', message: `recovery.workDir is postgres.dataDir (${dataDir}); ${suggestion}` }];
  }
  if (isSameOrInside(workDir, dataDir)) {
    return [
      {
        pointer: '/recovery/workDir',
        message: `recovery.workDir ${workDir} is inside postgres.dataDir ${dataDir}, which is renamed aside during recovery; ${suggestion}`,
      },
    ];
  }
  if (isSameOrInside(dataDir, workDir)) {
    return [
      {
        pointer: '/recovery/workDir',
        message: `postgres.dataDir ${dataDir} is inside recovery.workDir ${workDir}, which holds scratch data; ${suggestion}`,
      },
    ];
  }
  return [];
}

/** The dump is the last way back; it must not move with the old dataDir or sit in scratch space. */
function safetyBackupDirApart(plan: PitrPlan): PlanIssue[] {
  const dir = plan.safetyBackup?.dir ?? DEFAULTS.safetyBackupDir;
  const written = plan.safetyBackup?.dir !== undefined;
  const places = [
    { name: 'postgres.dataDir', path: plan.postgres.dataDir, pointer: '/postgres/dataDir' },
    { name: 'recovery.workDir', path: plan.recovery.workDir, pointer: '/recovery/workDir' },
  ];
  const defaultIsFree = places.every((place) => !isSameOrInside(DEFAULTS.safetyBackupDir, place.path));
  const example = defaultIsFree ? `, e.g. ${DEFAULTS.safetyBackupDir}` : '';
  return places
    .filter((place) => isSameOrInside(dir, place.path))
    .map((place) => ({
      pointer: written ? '/safetyBackup/dir' : place.pointer,
      message:
        `safetyBackup.dir ${dir}${written ? '' : ' (the default)'} is inside ${place.name} ${place.path}; ` +
        `keep the safety dump outside both postgres.dataDir and recovery.workDir${example}`,
    }));
}

function sidePortDiffersFromProduction(plan: PitrPlan): PlanIssue[] {
  const productionPort = plan.postgres.port ?? DEFAULTS.postgresPort;
  const sidePort = plan.recovery.port ?? DEFAULTS.recoveryPort;
  if (productionPort !== sidePort) return [];
  const freePort = sidePort < 65535 ? sidePort + 1 : sidePort - 1;
  let pointer = '/recovery/port';
  if (plan.recovery.port === undefined) pointer = '/postgres/port';
  return [
    {
      pointer,
      message:
        `recovery.port and postgres.port are both ${sidePort}; the side instance must not use the production port, ` +
        `so set recovery.port to a free port, e.g. ${freePort}`,
    },
  ];
}

function serviceMatchesKind(plan: PitrPlan): PlanIssue[] {
  const { service, version } = plan.postgres;
  const fieldsByKind = {
    systemd: { required: 'unit', example: `unit: postgresql@${version}-main` },
    pg_ctlcluster: { required: 'cluster', example: `cluster: ${version}/main` },
    pg_ctl: { required: null, example: '' },
  } as const;
  const { required, example } = fieldsByKind[service.kind];
  const issues: PlanIssue[] = [];
  if (required !== null && service[required] === undefined) {
    issues.push({
      pointer: '/postgres/service',
      atKey: true,
      message: `service kind ${service.kind} needs "${required}", e.g. ${example}`,
    });
  }
  const owners = { unit: 'systemd', cluster: 'pg_ctlcluster', logFile: 'pg_ctl' } as const;
  for (const [field, owner] of Object.entries(owners)) {
    if (owner !== service.kind && service[field as keyof typeof owners] !== undefined) {
      issues.push(notForKind(`/postgres/service/${field}`, field, `service kind ${service.kind}`, `kind ${owner}`));
    }
  }
  return issues;
}

function sourceMatchesKind(plan: PitrPlan): PlanIssue[] {
  const { source } = plan;
  if (source.kind === 'gcs') {
    return [
      {
        pointer: '/source/kind',
        message: 'gcs is not supported yet; use kind s3 with endpoint https://storage.googleapis.com and HMAC keys',
      },
    ];
  }
  const issues: PlanIssue[] = [];
  if (source.kind === 's3') {
    if (source.bucket === undefined) {
      issues.push({
        pointer: '/source',
        atKey: true,
        message: 'source kind s3 needs "bucket": the bucket holding the base backups and the WAL archive',
      });
    }
    if (source.path !== undefined) issues.push(notForKind('/source/path', 'path', 'source kind s3', 'kind local'));
  } else {
    if (source.path === undefined) {
      issues.push({
        pointer: '/source',
        atKey: true,
        message: 'source kind local needs "path": the directory holding the base backups and the WAL archive',
      });
    }
    for (const field of ['bucket', 'region', 'endpoint'] as const) {
      if (source[field] !== undefined) issues.push(notForKind(`/source/${field}`, field, 'source kind local', 'kind s3'));
    }
  }
  return issues;
}

function runtimeMatchesKind(plan: PitrPlan): PlanIssue[] {
  const runtime = plan.runtime;
  if (!runtime) return [];
  const issues: PlanIssue[] = [];
  const blocks = { compose: 'docker', k8s: 'k8s' } as const;
  for (const [block, owner] of Object.entries(blocks)) {
    const present = runtime[block as keyof typeof blocks] !== undefined;
    if (owner === runtime.kind && !present) {
      issues.push({
        pointer: '/runtime',
        atKey: true,
        message:
          block === 'compose'
            ? 'runtime kind docker needs a "compose" block with file and services (the services that write to the database)'
            : 'runtime kind k8s needs a "k8s" block with context, namespace and deployments (those that write to the database)',
      });
    }
    if (owner !== runtime.kind && present) {
      issues.push(notForKind(`/runtime/${block}`, block, `runtime kind ${runtime.kind}`, `kind ${owner}`));
    }
  }
  return issues;
}

/** Free text that may span lines: shown in comments or run as SQL, never in a config line. */
const MULTI_LINE_FIELDS = [/^\/description$/, /^\/verify\/queries\/\d+\/(sql|expect|name)$/];

/**
 * No value can carry a NUL (bash variables and argv cannot hold one), and every value
 * but free text must be one line: paths and names end up in postgresql.conf lines,
 * log lines and file names. Quotes, spaces and $ are fine everywhere: values reach
 * bash through one quoting function and SQL as psql variables.
 */
function valuesAreRepresentable(plan: PitrPlan): PlanIssue[] {
  const issues: PlanIssue[] = [];
  const visit = (value: unknown, pointer: string): void => {
    if (typeof value === 'string') {
      if (value.includes('\u0000')) {
        issues.push({ pointer, message: 'contains a NUL character, which no script or PostgreSQL name can hold; remove it' });
      } else if (/[\u0001-\u001f\u007f]/.test(value) && !MULTI_LINE_FIELDS.some((re) => re.test(pointer))) {
        issues.push({ pointer, message: 'contains a line break or another control character; this value must be a single line of text' });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => visit(item, `${pointer}/${index}`));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) visit(item, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`);
    }
  };
  visit(plan, '');
  return issues;
}

function notForKind(pointer: string, field: string, actual: string, owner: string): PlanIssue {
  return { pointer, atKey: true, message: `"${field}" does not apply to ${actual}; remove it (it is for ${owner})` };
}

function siblingOf(path: string, name: string): string {
  const canonical = canonicalPath(path);
  const parent = canonical.slice(0, canonical.lastIndexOf('/')) || '';
  return `${parent}/${name}`;
}
