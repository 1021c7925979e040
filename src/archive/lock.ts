/**
 * The lock file `pitr resolve` writes beside a plan (`plans/x.yaml` →
 * `plans/x.lock.json`): the exact base backup and WAL a recovery uses, each object
 * with its size and ETag (S3) or sha256 (local). Deterministic: keys sorted at every
 * level, two-space indent, trailing newline; arrays keep their meaning's order (WAL in
 * replay order). It records nothing about when or where it was made.
 */
import type { ArchiveLocation, NormalizedPlan, TargetKind } from '../plan/normalized.js';

export const LOCK_VERSION = 1;

export interface LockedObject {
  /** The object's key (S3) or path relative to source.path (local). */
  key: string;
  size: number;
  /** S3: the ETag without its quotes. */
  etag?: string;
  /** local: sha256 of the file. */
  sha256?: string;
}

/** An archived WAL, history or backup history file: its logical name and where it is stored. */
export interface LockedWalObject extends LockedObject {
  /** The name PostgreSQL asks restore_command for (no compression suffix). */
  name: string;
}

export interface LockFile {
  lockVersion: typeof LOCK_VERSION;
  plan: { name: string; sha256: string };
  target: { kind: TargetKind; value: string; timeline: string };
  /** The plan's source when the lock was made; the backup it chose is in `backup`. */
  source: ArchiveLocation;
  backup: {
    id: string;
    startLsn: string;
    stopLsn: string;
    startTimeline: number;
    stopTimeline: number;
    startWalFile: string;
    /** As written in the backup history file (the primary's log_timezone). */
    stopTime: string;
    /** The same instant in UTC, or null when the zone abbreviation leaves it uncertain. */
    stopTimeUtc: string | null;
    /** The `<segment>.<offset>.backup` file it was read from. */
    historyFile: LockedWalObject;
  };
  targetTimeline: number;
  chain: { timeline: number; beginLsn: string }[];
  walSegmentSize: number;
  walRange: {
    first: string;
    last: string;
    segments: number;
    /** Why the range ends where it does. */
    endsAt: 'archive-end' | 'gap' | 'target-lsn' | 'backup-end';
    /** Time targets: the newest transaction end pg_waldump found at the end of the range. */
    latestTransactionTime: string | null;
  };
  objects: {
    base: LockedObject[];
    history: LockedWalObject[];
    wal: LockedWalObject[];
  };
  warnings: string[];
}

/** plans/x.yaml → plans/x.lock.json (any extension is replaced). */
export function lockPathFor(planPath: string): string {
  const slash = planPath.lastIndexOf('/');
  const dot = planPath.lastIndexOf('.');
  const stem = dot > slash + 1 ? planPath.slice(0, dot) : planPath;
  return `${stem}.lock.json`;
}

export function lockSourceOf(plan: NormalizedPlan): ArchiveLocation {
  const { kind, bucket, region, endpoint, path, base, wal } = plan.source;
  return { kind, bucket, region, endpoint, path, base: { ...base }, wal: { ...wal } };
}

/** Deterministic JSON: object keys sorted at every level, trailing newline. */
export function lockFileText(lock: LockFile): string {
  return `${JSON.stringify(sortKeys(lock), null, 2)}\n`;
}

/** One-line JSON with object keys sorted: equal values give equal text, whatever their key order. */
export function sortedJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** Read a lock file back; throws with a reason when it is not one this version writes. */
export function parseLockFile(text: string): LockFile {
  const value = JSON.parse(text) as Partial<LockFile>;
  if (value === null || typeof value !== 'object') throw new Error('the lock file is not a JSON object');
  if (value.lockVersion !== LOCK_VERSION) {
    throw new Error(`lockVersion is ${String(value.lockVersion)}; this pitr reads lock files of version ${LOCK_VERSION}`);
  }
  for (const field of ['plan', 'target', 'source', 'backup', 'chain', 'walRange', 'objects'] as const) {
    if (value[field] === undefined) throw new Error(`the lock file has no ${field}`);
  }
  return value as LockFile;
}
