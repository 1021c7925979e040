/**
 * What `pitr compile` does with a lock file: check that it belongs to the plan being
 * compiled, that every name it hands to the scripts is safe in a tab-separated data
 * file, and turn its objects into lib/pinned.tsv. Pure: no fs, clock or env.
 */
import type { NormalizedPlan } from '../plan/normalized.js';
import { lockSourceOf, sortedJson, type LockedObject, type LockFile } from './lock.js';

/** A lock the compiler refuses: each reason names what differs or what is wrong. */
export class LockRejected extends Error {
  override name = 'LockRejected';
  constructor(
    readonly lockPath: string,
    readonly reasons: string[],
  ) {
    super(`${lockPath}: ${reasons.join('; ')}`);
  }
}

/**
 * How the lock differs from the plan it sits beside. The plan's sha256 covers
 * everything; target and source are compared on their own too, so the message says
 * what changed instead of only "the plan changed".
 */
export function lockDisagreements(lock: LockFile, plan: NormalizedPlan, planSha256: string): string[] {
  const reasons: string[] = [];
  if (lock.plan.name !== plan.name) reasons.push(`it was resolved for plan "${lock.plan.name}", this plan is "${plan.name}"`);
  const lockTarget = `${lock.target.kind} ${lock.target.value} (timeline ${lock.target.timeline})`;
  const planTarget = `${plan.target.kind} ${plan.target.value} (timeline ${plan.target.timeline})`;
  if (lockTarget !== planTarget) reasons.push(`target: the lock has ${lockTarget}, the plan has ${planTarget}`);
  const lockSource = sortedJson(lock.source);
  const planSource = sortedJson(lockSourceOf(plan));
  if (lockSource !== planSource) reasons.push(`source: the lock has ${lockSource}, the plan has ${planSource}`);
  if (lock.plan.sha256 !== planSha256) {
    reasons.push(`the plan changed after pitr resolve (plan.json sha256 ${planSha256}, the lock was made for ${lock.plan.sha256})`);
  }
  return reasons;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const SEGMENT = /^[0-9A-F]{24}$/;
const HISTORY = /^[0-9A-F]{8}\.history$/;
const BACKUP_HISTORY = /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/;

/** Why the lock's objects cannot be handed to the scripts (empty when they can). */
export function lockObjectProblems(lock: LockFile): string[] {
  const problems: string[] = [];
  const objects = lock.objects as Partial<LockFile['objects']> | undefined;
  if (!objects || !Array.isArray(objects.base) || !Array.isArray(objects.history) || !Array.isArray(objects.wal)) {
    return ['objects must hold base, history and wal lists'];
  }
  const check = (where: string, object: LockedObject, name?: string): void => {
    const say = (what: string): void => {
      problems.push(`${where} ${JSON.stringify(object.key ?? name ?? null)}: ${what}`);
    };
    if (typeof object.key !== 'string' || object.key === '' || CONTROL.test(object.key)) say('key must be non-empty text without control characters (tab, newline, ...)');
    if (!Number.isSafeInteger(object.size) || object.size < 0) say('size must be a whole number of bytes');
    if (lock.source.kind === 's3') {
      if (typeof object.etag !== 'string' || !/^[\x21\x23-\x7e]+$/.test(object.etag)) say('an S3 object needs its ETag (printable, no quotes or spaces)');
    } else if (typeof object.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(object.sha256)) {
      say('a local object needs its sha256 (64 lowercase hex digits)');
    }
    if (name !== undefined && (typeof name !== 'string' || CONTROL.test(name))) say('name must be text without control characters');
  };
  objects.base.forEach((o) => check('base object', o));
  check('backup history file', lock.backup.historyFile, lock.backup.historyFile.name);
  if (!BACKUP_HISTORY.test(lock.backup.historyFile.name)) problems.push(`backup history file name ${JSON.stringify(lock.backup.historyFile.name)} is not <segment>.<offset>.backup`);
  for (const o of objects.history) {
    check('history file', o, o.name);
    if (!HISTORY.test(o.name)) problems.push(`history file name ${JSON.stringify(o.name)} is not <timeline>.history`);
  }
  for (const o of objects.wal) {
    check('WAL segment', o, o.name);
    if (!SEGMENT.test(o.name)) problems.push(`WAL segment name ${JSON.stringify(o.name)} is not 24 hex digits`);
  }
  if (objects.base.length === 0) problems.push('no base backup objects');
  if (objects.wal.length === 0) problems.push('no WAL segments');
  const names = objects.wal.map((o) => o.name);
  if (names[0] !== lock.walRange.first || names.at(-1) !== lock.walRange.last || names.length !== lock.walRange.segments) {
    problems.push(`walRange (${lock.walRange.first} .. ${lock.walRange.last}, ${lock.walRange.segments}) does not match the WAL list (${names[0] ?? 'none'} .. ${names.at(-1) ?? 'none'}, ${names.length})`);
  }
  return problems;
}

export type PinnedKind = 'base' | 'history' | 'wal';

export interface PinnedRow {
  kind: PinnedKind;
  /** The name PostgreSQL asks for (history, wal); the key itself for base objects. */
  name: string;
  key: string;
  size: number;
  etag: string;
  sha256: string;
}

/** Every object the lock pins, in the order the recovery uses them: base, history files
 *  (the backup's own .backup file first), WAL in replay order. */
export function pinnedRows(lock: LockFile): PinnedRow[] {
  const row = (kind: PinnedKind, name: string, o: LockedObject): PinnedRow => ({
    kind,
    name,
    key: o.key,
    size: o.size,
    etag: o.etag ?? '',
    sha256: o.sha256 ?? '',
  });
  return [
    ...lock.objects.base.map((o) => row('base', o.key, o)),
    row('history', lock.backup.historyFile.name, lock.backup.historyFile),
    ...lock.objects.history.map((o) => row('history', o.name, o)),
    ...lock.objects.wal.map((o) => row('wal', o.name, o)),
  ];
}

/** lib/pinned.tsv: kind, logical name, stored key, size, ETag, sha256 — one object a
 *  line. Refuses a field that would break the format (lockObjectProblems says which). */
export function pinnedTsv(lock: LockFile): string {
  return pinnedRows(lock)
    .map((r) => [r.kind, r.name, r.key, String(r.size), r.etag, r.sha256])
    .map((fields) => {
      if (fields.some((f) => CONTROL.test(f))) throw new Error(`internal: a lock field with a control character reached pinned.tsv: ${JSON.stringify(fields)}`);
      return `${fields.join('\t')}\n`;
    })
    .join('');
}
