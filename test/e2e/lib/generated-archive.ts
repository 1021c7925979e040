// Generated WAL archives for the differential test of the archive rules (backup
// selection, timeline following, the WAL range and its gaps, reachability of a time
// target): the shapes a real archive takes, written as files, with no PostgreSQL behind
// them. A seeded generator, so a failing seed can be replayed alone.
//
// What a generated archive holds:
// - timelines 1..3; each later one branched from an earlier one at a switch LSN, with
//   its NNNNNNNN.history (sometimes missing); the parent's switch segment sometimes
//   only as <segment>.partial, as a promoted standby leaves it;
// - WAL segments of every timeline from its start to its end, with gaps now and then;
//   each segment's content is what the fake pg_waldump prints for it (a COMMIT line
//   with the segment's last commit time, or nothing for a segment without commits);
// - 1-4 base backups (tarball layout: base/<id>.tar.gz and base/<id>/backup_label),
//   each with its <segment>.<offset>.backup history file; some failed (a base object
//   but no history file), some orphaned (a history file but no base object), some
//   ending at the same second as another;
// - STOP TIMEs written in the archive's zone as PostgreSQL writes them (the caller
//   formats them through a real server: see stopTimeRequests).

/** mulberry32: small, seeded, good enough to pick shapes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const ZONES = ['UTC', 'Asia/Tokyo', 'America/New_York', 'Europe/Dublin', 'Asia/Kolkata', 'America/Sao_Paulo', 'Australia/Adelaide'] as const;
export type Zone = (typeof ZONES)[number];

export const SEGMENT_SIZE = 16n * 1024n * 1024n;
/** Every archive starts its wall clock here (the New York DST change is 2024-11-03 06:00 UTC). */
const T0_SECONDS = Date.parse('2024-11-03T05:40:00Z') / 1000;
/** Seconds of wall clock per segment, and between the start of timelines. */
const SECONDS_PER_SEGMENT = 10;
const SECONDS_PER_TIMELINE = 2000;

interface Timeline {
  id: number;
  parent: number;
  /** Switch LSN (where this timeline begins); 0 for timeline 1. */
  begin: bigint;
  /** The last segment number written on it. */
  end: number;
}

export interface GeneratedBackup {
  label: string;
  timeline: number;
  startLsn: bigint;
  stopLsn: bigint;
  startSeconds: number;
  stopSeconds: number;
  /** 'ok' | a history file but no base object | a base object but no history file. */
  state: 'ok' | 'orphan-history' | 'failed';
}

export interface GeneratedTarget {
  kind: 'time' | 'lsn' | 'immediate' | 'xid' | 'restorePoint';
  value: string;
  inclusive: boolean;
  timeline: string;
  backup: string;
}

export interface GeneratedArchive {
  seed: number;
  zone: Zone;
  timelines: Timeline[];
  backups: GeneratedBackup[];
  target: GeneratedTarget;
  /** Relative path → content, without the backup history files (they need STOP TIMEs). */
  files: Map<string, string>;
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function segmentName(timeline: number, segno: bigint): string {
  const perId = 0x100000000n / SEGMENT_SIZE;
  const hex = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(segno / perId)}${hex(segno % perId)}`;
}

/** The wall clock of the last commit in segment `segno` of timeline `tli`. */
export function commitSeconds(tli: number, segno: number): number {
  return T0_SECONDS + (tli - 1) * SECONDS_PER_TIMELINE + segno * SECONDS_PER_SEGMENT;
}

function utcText(seconds: number, micros = 0): string {
  return `${new Date(seconds * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${String(micros).padStart(6, '0')}`;
}

/** The chain of timelines leading to `tli`, oldest first: [id, begin]. */
export function chainOf(timelines: readonly Timeline[], tli: number): Timeline[] {
  const chain: Timeline[] = [];
  let t = timelines.find((x) => x.id === tli);
  while (t) {
    chain.unshift(t);
    t = t.id === 1 ? undefined : timelines.find((x) => x.id === t!.parent);
  }
  return chain;
}

export function generateArchive(seed: number): GeneratedArchive {
  const rnd = seededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const chance = (p: number) => rnd() < p;

  const zone = pick(ZONES);
  const timelines: Timeline[] = [{ id: 1, parent: 0, begin: 0n, end: int(6, 14) }];
  const timelineCount = pick([1, 1, 2, 2, 3]);
  for (let id = 2; id <= timelineCount; id++) {
    const parent = timelines[int(0, timelines.length - 1)]!;
    const parentStartSeg = Number(parent.begin / SEGMENT_SIZE);
    const switchSeg = int(Math.max(parentStartSeg + 1, 2), parent.end);
    const begin = BigInt(switchSeg) * SEGMENT_SIZE + BigInt(int(1, 1000) * 8);
    timelines.push({ id, parent: parent.id, begin, end: switchSeg + int(2, 10) });
  }

  const files = new Map<string, string>();
  // History files: the parent's history plus the parent's switch line.
  for (const t of timelines.slice(1)) {
    const lines = chainOf(timelines, t.id)
      .slice(1)
      .map((link) => `${timelines.find((x) => x.id === link.parent)!.id}\t${formatLsn(link.begin)}\tno recovery target specified`);
    if (!chance(0.06)) files.set(`wal/${segmentName(t.id, 0n).slice(0, 8)}.history`, `${lines.join('\n')}\n`);
  }
  // Segments: each timeline from the segment holding its switch point to its end.
  for (const t of timelines) {
    const first = Number(t.begin / SEGMENT_SIZE);
    for (let segno = Math.max(first, 1); segno <= t.end; segno++) {
      if (chance(0.04)) continue; // a gap
      const content = chance(0.1) ? '' : `rmgr: Transaction len (rec/tot): 34/34, tx: ${700 + segno}, lsn: 0/0, prev 0/0, desc: COMMIT ${utcText(commitSeconds(t.id, segno), int(0, 999999))} UTC\n`;
      files.set(`wal/${segmentName(t.id, BigInt(segno))}`, content);
    }
  }
  // A promoted standby archives the parent's unfinished switch segment as .partial.
  for (const t of timelines.slice(1)) {
    const name = segmentName(t.parent, t.begin / SEGMENT_SIZE);
    if (chance(0.3) && files.has(`wal/${name}`)) {
      const content = files.get(`wal/${name}`)!;
      files.delete(`wal/${name}`);
      files.set(`wal/${name}.partial`, content);
    }
  }

  const backups: GeneratedBackup[] = [];
  const backupCount = int(1, 4);
  for (let i = 1; i <= backupCount; i++) {
    const t = pick(timelines);
    const startSeg = int(Math.max(Number(t.begin / SEGMENT_SIZE) + 1, 1), Math.max(Number(t.begin / SEGMENT_SIZE) + 1, t.end - 1));
    const startLsn = BigInt(startSeg) * SEGMENT_SIZE + BigInt(int(5, 4000) * 8);
    const stopLsn = startLsn + BigInt(int(1, 3_000_000) * 8);
    const stopSeg = Number(stopLsn / SEGMENT_SIZE);
    const startSeconds = commitSeconds(t.id, startSeg) - int(1, 9);
    // Now and then a backup ends in the same second as the one before it (never before its own start).
    const previous = backups.at(-1);
    const tie = previous && previous.stopSeconds > startSeconds && chance(0.3) ? previous : undefined;
    const stopSeconds = tie ? tie.stopSeconds : Math.max(startSeconds + 1, commitSeconds(t.id, stopSeg) - int(0, 8));
    const state = chance(0.1) ? 'failed' : chance(0.1) ? 'orphan-history' : 'ok';
    backups.push({ label: `b${i}`, timeline: t.id, startLsn, stopLsn, startSeconds, stopSeconds, state });
  }
  for (const b of backups) {
    if (b.state === 'orphan-history') continue;
    const startFile = segmentName(b.timeline, b.startLsn / SEGMENT_SIZE);
    files.set(`base/${b.label}.tar.gz`, 'not read: backup_label is beside it\n');
    files.set(
      `base/${b.label}/backup_label`,
      [
        `START WAL LOCATION: ${formatLsn(b.startLsn)} (file ${startFile})`,
        `CHECKPOINT LOCATION: ${formatLsn(b.startLsn + 0x38n)}`,
        'BACKUP METHOD: streamed',
        'BACKUP FROM: primary',
        `START TIME: ${utcText(b.startSeconds).slice(0, 19)} UTC`,
        `LABEL: ${b.label}`,
        `START TIMELINE: ${b.timeline}`,
        '',
      ].join('\n'),
    );
  }

  const maxSeg = Math.max(...timelines.map((t) => t.end));
  const kind = pick(['time', 'time', 'time', 'lsn', 'lsn', 'immediate', 'xid', 'restorePoint'] as const);
  const named = kind === 'xid' || kind === 'restorePoint' || chance(0.2);
  const backup = named ? (chance(0.05) ? 'b9' : pick(backups).label) : 'auto';
  const timeline = pick(['latest', 'latest', 'latest', 'current', String(int(1, 4))]);
  let value = '';
  if (kind === 'time') {
    const seconds = T0_SECONDS + int(0, (timelineCount - 1) * SECONDS_PER_TIMELINE + maxSeg * SECONDS_PER_SEGMENT + 20);
    value = `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(int(0, 999)).padStart(3, '0')}+00:00`;
  } else if (kind === 'lsn') {
    value = formatLsn(BigInt(int(1, maxSeg + 1)) * SEGMENT_SIZE + BigInt(int(0, 1000) * 8));
  } else if (kind === 'xid') {
    value = String(int(700, 800));
  } else if (kind === 'restorePoint') {
    value = 'before-incident';
  }
  return { seed, zone, timelines, backups, target: { kind, value, inclusive: chance(0.5), timeline, backup }, files };
}

/** The backup history file of `b`, given its STOP TIME as PostgreSQL wrote it. */
export function backupHistoryFile(b: GeneratedBackup, stopTimeWritten: string, startTimeWritten: string): { path: string; content: string } {
  const startFile = segmentName(b.timeline, b.startLsn / SEGMENT_SIZE);
  const stopFile = segmentName(b.timeline, b.stopLsn / SEGMENT_SIZE);
  const offset = (b.startLsn % SEGMENT_SIZE).toString(16).toUpperCase().padStart(8, '0');
  const content = [
    `START WAL LOCATION: ${formatLsn(b.startLsn)} (file ${startFile})`,
    `STOP WAL LOCATION: ${formatLsn(b.stopLsn)} (file ${stopFile})`,
    `CHECKPOINT LOCATION: ${formatLsn(b.startLsn + 0x38n)}`,
    'BACKUP METHOD: streamed',
    'BACKUP FROM: primary',
    `START TIME: ${startTimeWritten}`,
    `LABEL: ${b.label}`,
    `START TIMELINE: ${b.timeline}`,
    `STOP TIME: ${stopTimeWritten}`,
    `STOP TIMELINE: ${b.timeline}`,
    '',
  ].join('\n');
  return { path: `wal/${startFile}.${offset}.backup`, content };
}
