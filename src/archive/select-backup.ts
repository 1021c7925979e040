/**
 * Base backup selection, the rule the generated preflight applies too
 * (00-preflight.sh: resolve_target_timeline, backup_fits_target, select_backup):
 *
 * - The recovery follows a target timeline: `current` = the backup's start timeline,
 *   `latest` = the highest timeline the archive holds any file of (at least the backup's;
 *   its history file must then exist),
 *   or the number the plan gives.
 * - A backup is usable only if it lies on that timeline's history (chain).
 * - time target: its STOP TIME (whole seconds, truncated) + 1 s <= the target, so the
 *   backup really ended strictly before the target; lsn target: stop LSN < target;
 *   other targets: any backup on the chain.
 * - `auto` takes the newest usable backup by STOP TIME (ties: the first in WAL order);
 *   an explicit id must be usable. Nothing usable is an error, never a fallback.
 * - An incremental backup (PostgreSQL 17+, INCREMENTAL FROM LSN) is never usable on its
 *   own: auto passes over it, and naming it is refused with the full backup its chain
 *   starts from (pg_combinebackup rebuilds a full backup from the chain).
 */
import type { NormalizedTarget } from '../plan/normalized.js';
import type { BackupHistory } from './backup-history.js';
import { canonicalTimeToMicros, formatUtcSeconds, type StopTime } from './stop-time.js';
import { chainContains, describeChain, type ChainLink } from './timeline.js';
import { formatLsn, parseLsn } from './wal-names.js';

export interface BackupCandidate {
  history: BackupHistory;
  stop: StopTime;
}

export type TimelineChoice = 'latest' | 'current' | number;

export function parseTimelineChoice(text: string): TimelineChoice {
  if (text === 'latest' || text === 'current') return text;
  if (/^[1-9][0-9]*$/.test(text)) return Number(text);
  throw new Error(`target.timeline "${text}" is not latest, current or a number`);
}

/** The timeline a recovery from `backup` follows. `latestInArchive`: the highest timeline with any file in the archive (1 if none). */
export function targetTimelineFor(choice: TimelineChoice, backupTimeline: number, latestInArchive: number): number {
  if (choice === 'current') return backupTimeline;
  if (choice === 'latest') return Math.max(latestInArchive, backupTimeline);
  return choice;
}

export type Fit = 'yes' | 'no' | 'unknown';

export interface FitVerdict {
  fit: Fit;
  /** Why not (or why unknown), for messages. */
  why: string;
}

/** Does a backup suit the target along `chain`? */
export function backupFitsTarget(candidate: BackupCandidate, target: NormalizedTarget, chain: readonly ChainLink[]): FitVerdict {
  const { history, stop } = candidate;
  if (!chainContains(chain, history.startTimeline, history.startLsn) || !chainContains(chain, history.stopTimeline, history.stopLsn)) {
    return { fit: 'no', why: `not on the timeline history the recovery follows (${describeChain(chain)})` };
  }
  if (target.kind === 'time') {
    const targetMicros = canonicalTimeToMicros(target.value);
    // STOP TIME is truncated to whole seconds: the backup may have ended up to 1 s later.
    const endsBy = (seconds: number) => (seconds + 1) * 1_000_000;
    if (endsBy(stop.latest) <= targetMicros) return { fit: 'yes', why: '' };
    if (endsBy(stop.earliest) > targetMicros) return { fit: 'no', why: 'ends at or after the target' };
    return { fit: 'unknown', why: `cannot tell whether it ends before the target: ${stop.uncertainty ?? 'uncertain STOP TIME'}` };
  }
  if (target.kind === 'lsn') {
    return history.stopLsn < parseLsn(target.value)
      ? { fit: 'yes', why: '' }
      : { fit: 'no', why: 'ends at or after the target LSN' };
  }
  return { fit: 'yes', why: '' };
}

export interface SelectInput<C extends BackupCandidate> {
  /** Every backup with a backup history file, in archive (WAL) order. */
  candidates: readonly C[];
  target: NormalizedTarget;
  /** "auto" or a backup id. */
  choice: string;
  timeline: TimelineChoice;
  latestTimelineInArchive: number;
  /** The chain of a timeline, or a reason it is unknown (its history file is missing or bad). */
  chainFor(timeline: number): ChainLink[] | string;
}

export type Selection<C extends BackupCandidate> =
  | { ok: true; backup: C; targetTimeline: number; chain: ChainLink[]; warnings: string[] }
  | { ok: false; problem: 'no-backups' | 'none-fits' | 'not-found' | 'unfit' | 'undecidable'; message: string; hint: string };

interface Evaluated<C> {
  candidate: C;
  targetTimeline: number;
  chain: ChainLink[] | null;
  verdict: FitVerdict;
}

export function selectBaseBackup<C extends BackupCandidate>(input: SelectInput<C>): Selection<C> {
  const { candidates, target, choice } = input;
  if (candidates.length === 0) {
    return {
      ok: false,
      problem: 'no-backups',
      message: 'the archive has no base backup with a backup history file (<segment>.<offset>.backup)',
      hint: 'check source.base and source.wal.prefix; base backups must be taken with archiving on (pg_basebackup does this)',
    };
  }
  const evaluated: Evaluated<C>[] = candidates.map((candidate) => {
    const targetTimeline = targetTimelineFor(input.timeline, candidate.history.startTimeline, input.latestTimelineInArchive);
    const chain = input.chainFor(targetTimeline);
    if (typeof chain === 'string') return { candidate, targetTimeline, chain: null, verdict: { fit: 'no', why: chain } };
    if (candidate.history.incrementalFromLsn !== undefined) {
      return { candidate, targetTimeline, chain, verdict: { fit: 'no', why: incrementalWhy(candidate, candidates) } };
    }
    return { candidate, targetTimeline, chain, verdict: backupFitsTarget(candidate, target, chain) };
  });
  const listing = describeBackups(evaluated);

  if (choice !== 'auto') {
    const named = evaluated.find((e) => e.candidate.history.label === choice);
    if (!named) {
      return {
        ok: false,
        problem: 'not-found',
        message: `backup ${choice} (source.backup) has no backup history file in the archive; backups found:\n${listing}`,
        hint: 'set source.backup to one of the backups above, or to auto',
      };
    }
    if (named.candidate.history.incrementalFromLsn !== undefined) {
      const full = fullBackupOf(named.candidate, candidates);
      return {
        ok: false,
        problem: 'unfit',
        message: `backup ${choice} (source.backup) cannot be used: ${named.verdict.why}; backups found:\n${listing}`,
        hint: full
          ? `set source.backup to ${full.history.label}, the full backup its chain starts from (or auto); or rebuild a full backup with pg_combinebackup from ${full.history.label} up to ${choice} and put it into the archive under a new id`
          : `set source.backup to a full backup (or auto); or rebuild a full backup with pg_combinebackup from the chain ending in ${choice}`,
      };
    }
    if (named.verdict.fit === 'no' || named.chain === null) {
      return {
        ok: false,
        problem: 'unfit',
        message: `backup ${choice} (source.backup) cannot be used for this target: ${named.verdict.why}; backups found:\n${listing}`,
        hint: `set source.backup to a backup that ended before the target, or to auto${earliestTargetHint(evaluated, target)}`,
      };
    }
    const warnings = named.verdict.fit === 'unknown'
      ? [`backup ${choice}: ${named.verdict.why}; using it because the plan names it (source.backup)`]
      : [];
    return { ok: true, backup: named.candidate, targetTimeline: named.targetTimeline, chain: named.chain, warnings };
  }

  let best: Evaluated<C> | undefined;
  for (const e of evaluated) {
    if (e.verdict.fit !== 'yes') continue;
    if (!best || e.candidate.stop.earliest > best.candidate.stop.earliest) best = e;
  }
  // A backup we cannot place might be newer than the best one: refuse to guess.
  const undecided = evaluated.filter(
    (e) => e.verdict.fit === 'unknown' && (!best || e.candidate.stop.latest > best.candidate.stop.earliest),
  );
  if (undecided.length > 0) {
    const names = undecided.map((e) => `${e.candidate.history.label} (${e.verdict.why})`).join('; ');
    return {
      ok: false,
      problem: 'undecidable',
      message: `cannot choose the base backup automatically: ${names}; backups found:\n${listing}`,
      hint:
        'name the backup explicitly with source.backup: <id> after checking its stop time against the primary\'s log_timezone' +
        (best ? ` (${best.candidate.history.label} certainly ended before the target)` : ''),
    };
  }
  if (!best || best.chain === null) {
    return {
      ok: false,
      problem: 'none-fits',
      message: `no base backup ends strictly before the target (${target.kind} ${target.value}); backups found:\n${listing}`,
      hint: `choose a later target, or restore from an older archive; never recover from a backup that ends after the target${earliestTargetHint(evaluated, target)}`,
    };
  }
  return { ok: true, backup: best.candidate, targetTimeline: best.targetTimeline, chain: best.chain, warnings: [] };
}

/** The full backup an incremental one's chain starts from (following INCREMENTAL FROM LSN), if in the archive. */
export function fullBackupOf<C extends BackupCandidate>(candidate: C, candidates: readonly C[]): C | undefined {
  let current: C | undefined = candidate;
  for (let steps = 0; current && steps <= candidates.length; steps++) {
    const from: bigint | undefined = current.history.incrementalFromLsn;
    if (from === undefined) return current;
    current = candidates.find((c) => c.history.startLsn === from);
  }
  return undefined;
}

function incrementalWhy<C extends BackupCandidate>(candidate: C, candidates: readonly C[]): string {
  const from = candidate.history.incrementalFromLsn ?? 0n;
  const full = fullBackupOf(candidate, candidates);
  return `an incremental backup (INCREMENTAL FROM LSN ${formatLsn(from)}): restored alone it is not a data directory` +
    (full ? `; its chain starts from the full backup ${full.history.label}` : '; the full backup its chain starts from is not in the archive');
}

/** "; the earliest target any backup allows is ..." for time and lsn targets. */
function earliestTargetHint<C extends BackupCandidate>(evaluated: readonly Evaluated<C>[], target: NormalizedTarget): string {
  const onChain = evaluated.filter(
    (e) => e.chain !== null && chainContains(e.chain, e.candidate.history.startTimeline, e.candidate.history.startLsn),
  );
  if (onChain.length === 0) return '';
  if (target.kind === 'time') {
    const first = onChain.reduce((a, b) => (b.candidate.stop.latest < a.candidate.stop.latest ? b : a));
    return `; the earliest target time that works is ${formatUtcSeconds(first.candidate.stop.latest + 1)} (backup ${first.candidate.history.label} ended by then)`;
  }
  if (target.kind === 'lsn') {
    const first = onChain.reduce((a, b) => (b.candidate.history.stopLsn < a.candidate.history.stopLsn ? b : a));
    return `; the earliest target LSN that works is ${formatLsn(first.candidate.history.stopLsn + 1n)} (just after backup ${first.candidate.history.label} ended)`;
  }
  return '';
}

function describeBackups<C extends BackupCandidate>(evaluated: readonly Evaluated<C>[]): string {
  return evaluated
    .map(({ candidate: { history, stop }, verdict }) => {
      const utc = stop.utc ?? `between ${formatUtcSeconds(stop.earliest)} and ${formatUtcSeconds(stop.latest)}`;
      const note = verdict.fit === 'yes' ? 'usable' : verdict.why;
      return `  ${history.label}  (timeline ${history.startTimeline}, start ${formatLsn(history.startLsn)}, stop ${formatLsn(history.stopLsn)}, STOP TIME ${stop.written} = ${utc}): ${note}`;
    })
    .join('\n');
}
