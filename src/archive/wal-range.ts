/**
 * The WAL a recovery needs, the rule of lib/archive.sh (plan_wal_range,
 * wal_names_between) and 00-preflight.sh (check_wal):
 *
 * From the backup's start segment, each segment is read from the newest timeline of
 * the chain that has begun by it. The range is contiguous: it runs up to the first
 * segment missing from the archive (or the archive's end). Beyond that the archive may
 * hold more segments of the chain (a gap).
 *
 * Where the range must end depends on the target:
 * - time: every contiguous segment; the target is reachable only if a transaction in
 *   that WAL ended at or after it (the caller reads commit times with pg_waldump);
 * - lsn: up to the target's segment, which must be in the contiguous range;
 * - immediate: up to the backup's stop segment;
 * - xid / restorePoint: every contiguous segment, and a gap after it is an error
 *   (the target cannot be proven to lie before the gap).
 */
import type { NormalizedTarget } from '../plan/normalized.js';
import type { BackupHistory } from './backup-history.js';
import { canonicalTimeToMicros, formatUtcMicros } from './stop-time.js';
import { timelineForSegment, type ChainLink } from './timeline.js';
import { historyFileName, parseLsn, parseSegmentName, segmentName, segmentOf } from './wal-names.js';

export interface WalRangeScan {
  firstSegno: bigint;
  /** The last segment before the first missing one (firstSegno - 1 when the first is missing). */
  lastContiguous: bigint;
  /** The first segment of the chain present after the gap, or null when the archive ends there. */
  nextPresent: bigint | null;
}

/** The name of segment `segno` as the recovery reads it along `chain`. */
export function chainSegmentName(chain: readonly ChainLink[], segno: bigint, segmentSize: bigint): string {
  return segmentName(timelineForSegment(chain, segno, segmentSize), segno, segmentSize);
}

/** Walk the chain from `startLsn` over the logical names present in the archive. */
export function scanWalRange(
  startLsn: bigint,
  chain: readonly ChainLink[],
  segmentSize: bigint,
  present: ReadonlySet<string>,
): WalRangeScan {
  const firstSegno = segmentOf(startLsn, segmentSize);
  let segno = firstSegno;
  while (present.has(chainSegmentName(chain, segno, segmentSize))) segno += 1n;
  const lastContiguous = segno - 1n;
  let nextPresent: bigint | null = null;
  for (const name of present) {
    const parsed = parseSegmentName(name, segmentSize);
    if (!parsed || parsed.segno <= lastContiguous) continue;
    if (parsed.timeline !== timelineForSegment(chain, parsed.segno, segmentSize)) continue;
    if (nextPresent === null || parsed.segno < nextPresent) nextPresent = parsed.segno;
  }
  return { firstSegno, lastContiguous, nextPresent };
}

/** The segment names PostgreSQL reads from `first` to `last`, in replay order. */
export function walSegmentsBetween(first: bigint, last: bigint, chain: readonly ChainLink[], segmentSize: bigint): string[] {
  const names: string[] = [];
  for (let segno = first; segno <= last; segno += 1n) names.push(chainSegmentName(chain, segno, segmentSize));
  return names;
}

/** The history files of the chain's timelines (timeline 1 has none). */
export function chainHistoryFiles(chain: readonly ChainLink[]): string[] {
  return chain.filter((link) => link.timeline > 1).map((link) => historyFileName(link.timeline));
}

/** The newest transaction end found in the last segments of the range (pg_waldump), if looked for. */
export interface ReachabilityProbe {
  /** Microseconds since 1970 of the newest COMMIT/ABORT record found, or null if none was. */
  latestTransactionMicros: number | null;
  /** How many segments were read (from the end of the contiguous range backwards). */
  segmentsRead: number;
}

export interface WalRangeInput {
  scan: WalRangeScan;
  target: NormalizedTarget;
  backup: BackupHistory;
  chain: readonly ChainLink[];
  segmentSize: bigint;
  /** Time targets only: what pg_waldump found; null when it could not be run. */
  probe: ReachabilityProbe | null;
}

export type WalRangeDecision =
  | { ok: true; first: bigint; last: bigint; endsAt: 'archive-end' | 'gap' | 'target-lsn' | 'backup-end'; warnings: string[] }
  | { ok: false; problem: 'first-missing' | 'gap-before-target' | 'target-beyond-archive' | 'gap'; message: string; hint: string };

export function decideWalRange(input: WalRangeInput): WalRangeDecision {
  const { scan, target, backup, chain, segmentSize } = input;
  const name = (segno: bigint) => chainSegmentName(chain, segno, segmentSize);
  const missingRange = (): string => {
    const first = name(scan.lastContiguous + 1n);
    if (scan.nextPresent === null) return first;
    const last = name(scan.nextPresent - 1n);
    return first === last ? first : `${first} to ${last}`;
  };
  if (scan.lastContiguous < scan.firstSegno) {
    return {
      ok: false,
      problem: 'first-missing',
      message: `the backup's first WAL segment ${name(scan.firstSegno)} is missing from the archive`,
      hint: 'the backup cannot be restored without it; choose another backup (source.backup)',
    };
  }
  const warnings: string[] = [];
  const gapWarning = () => {
    if (scan.nextPresent !== null) {
      warnings.push(`the archive has a gap after the target (missing: ${missingRange()}); recovery stops before it`);
    }
  };
  const endsAt = scan.nextPresent === null ? 'archive-end' : 'gap';

  switch (target.kind) {
    case 'time': {
      const probe = input.probe;
      const targetMicros = canonicalTimeToMicros(target.value);
      if (probe === null) {
        warnings.push('pg_waldump was not run: cannot confirm the archived WAL reaches the target');
      } else if (probe.latestTransactionMicros === null && BigInt(probe.segmentsRead) < scan.lastContiguous - scan.firstSegno + 1n) {
        warnings.push(`no transaction found in the last ${probe.segmentsRead} archived segments: cannot confirm the WAL reaches the target`);
      } else if (probe.latestTransactionMicros === null) {
        // Every segment from the backup's start was read: no transaction, so no time is reachable.
        return {
          ok: false,
          problem: scan.nextPresent === null ? 'target-beyond-archive' : 'gap-before-target',
          message: `the target ${target.value} cannot be reached: the WAL from the backup's start up to ${name(scan.lastContiguous)} holds no transaction at all` +
            (scan.nextPresent === null ? '' : ` (then segments ${missingRange()} are missing)`),
          hint: scan.nextPresent === null
            ? 'wait for archiving to catch up (SELECT pg_switch_wal() on the primary), or choose another backup'
            : 'restore the missing segments into the archive, or choose another backup',
        };
      } else if (probe.latestTransactionMicros < targetMicros) {
        const latest = formatUtcMicros(probe.latestTransactionMicros);
        if (scan.nextPresent !== null) {
          return {
            ok: false,
            problem: 'gap-before-target',
            message: `WAL gap before the target: segments ${missingRange()} are missing from the archive; the last transaction before the gap ended at ${latest}`,
            hint: `restore the missing segments into the archive, or choose a target at or before ${latest}`,
          };
        }
        return {
          ok: false,
          problem: 'target-beyond-archive',
          message: `the target ${target.value} is later than the last transaction in the archive (${latest}, in ${name(scan.lastContiguous)})`,
          hint: `wait for archiving to catch up (SELECT pg_switch_wal() on the primary), or choose a target at or before ${latest}`,
        };
      }
      gapWarning();
      return { ok: true, first: scan.firstSegno, last: scan.lastContiguous, endsAt, warnings };
    }
    case 'lsn': {
      const targetSegno = segmentOf(parseLsn(target.value), segmentSize);
      if (targetSegno > scan.lastContiguous) {
        return {
          ok: false,
          problem: scan.nextPresent === null ? 'target-beyond-archive' : 'gap-before-target',
          message: `the WAL needed to reach LSN ${target.value} is not all archived: ${name(scan.lastContiguous + 1n)} is the first missing segment` +
            (scan.nextPresent === null ? ' (the archive ends there)' : ` (missing: ${missingRange()})`),
          hint: `restore it into the archive, or choose a target LSN in ${name(scan.lastContiguous)} or earlier`,
        };
      }
      if (scan.nextPresent !== null && scan.nextPresent <= targetSegno) gapWarning();
      return { ok: true, first: scan.firstSegno, last: targetSegno, endsAt: 'target-lsn', warnings };
    }
    case 'immediate': {
      const stopSegno = segmentOf(backup.stopLsn, segmentSize);
      if (stopSegno > scan.lastContiguous) {
        return {
          ok: false,
          problem: 'gap-before-target',
          message: `the backup's WAL is not all archived: ${name(scan.lastContiguous + 1n)} is missing (the backup ends in ${name(stopSegno)})`,
          hint: 'restore the missing segments into the archive, or choose another backup',
        };
      }
      return { ok: true, first: scan.firstSegno, last: stopSegno, endsAt: 'backup-end', warnings };
    }
    default: {
      if (scan.nextPresent !== null) {
        return {
          ok: false,
          problem: 'gap',
          message: `WAL gap after the backup: ${missingRange()} missing while later segments exist; an ${target.kind} target cannot be proven to lie before it`,
          hint: 'restore the missing segments, or use a time or lsn target',
        };
      }
      return { ok: true, first: scan.firstSegno, last: scan.lastContiguous, endsAt, warnings };
    }
  }
}
