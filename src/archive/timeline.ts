/**
 * Timeline history: `0000000N.history` files and the chain of timelines a recovery
 * along timeline N follows.
 *
 * A history file has one line per ancestor, oldest first:
 *   1	0/3000158	no recovery target specified
 * ("parent timeline, the LSN where it was left, why"); `#` comments and blank lines are
 * ignored. Timeline 1 has no history file. The same reading is in lib/archive.sh
 * (load_timeline_chain, timeline_for_seg, chain_allows).
 */
import type { Parsed } from './backup-history.js';
import { formatLsn, parseLsn } from './wal-names.js';

export interface HistoryEntry {
  parentTimeline: number;
  switchLsn: bigint;
  reason: string;
}

/** One timeline of a chain and the LSN where it begins (0 for the first). */
export interface ChainLink {
  timeline: number;
  beginLsn: bigint;
}

export function parseTimelineHistory(text: string): Parsed<HistoryEntry[]> {
  const entries: HistoryEntry[] = [];
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(\d+)\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(?:\s+(.*))?$/.exec(line);
    if (!match) return { ok: false, message: `line ${index + 1} is not "<timeline> <switch LSN> <reason>": ${line}` };
    const entry = { parentTimeline: Number(match[1]), switchLsn: parseLsn(match[2]!), reason: match[3] ?? '' };
    const previous = entries.at(-1);
    if (previous && (entry.parentTimeline <= previous.parentTimeline || entry.switchLsn < previous.switchLsn)) {
      return { ok: false, message: `line ${index + 1}: timelines and switch points must increase, as PostgreSQL writes them` };
    }
    entries.push(entry);
  }
  return { ok: true, value: entries };
}

/**
 * The timelines a recovery along `timeline` passes through, oldest first, from that
 * timeline's history entries (none for timeline 1).
 */
export function timelineChain(timeline: number, history: readonly HistoryEntry[]): ChainLink[] {
  const chain: ChainLink[] = [];
  let begin = 0n;
  for (const entry of history) {
    chain.push({ timeline: entry.parentTimeline, beginLsn: begin });
    begin = entry.switchLsn;
  }
  chain.push({ timeline, beginLsn: begin });
  return chain;
}

/**
 * The timeline whose file PostgreSQL reads for segment `segno`: the newest timeline of
 * the chain that has begun by that segment (the segment holding a switch point is
 * read from the new timeline, which starts with a copy of the old one's data).
 */
export function timelineForSegment(chain: readonly ChainLink[], segno: bigint, segmentSize: bigint): number {
  let chosen = chain[0]!.timeline;
  for (const link of chain) {
    if (link.beginLsn / segmentSize <= segno) chosen = link.timeline;
  }
  return chosen;
}

/**
 * Is `lsn` on timeline `tli` within the chain, i.e. written on that timeline before
 * the chain left it? (A backup must lie on the history the recovery follows.)
 */
export function chainContains(chain: readonly ChainLink[], tli: number, lsn: bigint): boolean {
  const index = chain.findIndex((link) => link.timeline === tli);
  if (index < 0) return false;
  const next = chain[index + 1];
  return next === undefined || lsn < next.beginLsn;
}

/** "1 (from 0/0) → 2 (from 0/3000158)" for messages. */
export function describeChain(chain: readonly ChainLink[]): string {
  return chain.map((link) => `${link.timeline} (from ${formatLsn(link.beginLsn)})`).join(' → ');
}
