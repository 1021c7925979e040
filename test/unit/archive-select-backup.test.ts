import { describe, expect, it } from 'vitest';
import type { BackupHistory } from '../../src/archive/backup-history.js';
import { parseStopTime } from '../../src/archive/stop-time.js';
import { selectBaseBackup, targetTimelineFor, type BackupCandidate, type SelectInput } from '../../src/archive/select-backup.js';
import type { ChainLink } from '../../src/archive/timeline.js';
import { parseLsn } from '../../src/archive/wal-names.js';
import type { NormalizedTarget } from '../../src/plan/normalized.js';

function backup(label: string, start: string, stop: string, stopTime: string, timeline = 1): BackupCandidate {
  const file = (lsn: string) => `0000000${timeline}000000000000000${lsn.split('/')[1]!.slice(0, 1)}`;
  const history: BackupHistory = {
    label,
    startLsn: parseLsn(start),
    startWalFile: file(start),
    startTimeline: timeline,
    startTime: stopTime,
    stopLsn: parseLsn(stop),
    stopWalFile: file(stop),
    stopTimeline: timeline,
    stopTime,
  };
  const parsed = parseStopTime(stopTime);
  if (!parsed.ok) throw new Error(parsed.message);
  return { history, stop: parsed.stopTime };
}

const time = (value: string, timeline = 'latest'): NormalizedTarget => ({ kind: 'time', value, written: value, inclusive: false, timeline });

const TL1: ChainLink[] = [{ timeline: 1, beginLsn: 0n }];
const TL2: ChainLink[] = [{ timeline: 1, beginLsn: 0n }, { timeline: 2, beginLsn: parseLsn('0/5000000') }];

function select(candidates: BackupCandidate[], target: NormalizedTarget, extra: Partial<SelectInput<BackupCandidate>> = {}) {
  return selectBaseBackup({
    candidates,
    target,
    choice: 'auto',
    timeline: 'latest',
    latestTimelineInArchive: 1,
    chainFor: (tli) => (tli === 1 ? TL1 : tli === 2 ? TL2 : `timeline ${tli} has no history file`),
    ...extra,
  });
}

// 14:30:00 JST = 05:30:00 UTC.
const b1 = backup('b1', '0/2000028', '0/2000100', '2024-01-15 14:30:00 JST');
const b2 = backup('b2', '0/3000028', '0/3000100', '2024-01-15 15:00:00 JST');

describe('selectBaseBackup (auto)', () => {
  it('takes the newest backup that ended before the target', () => {
    const result = select([b1, b2], time('2024-01-15T06:10:00+00:00'));
    expect(result.ok && result.backup.history.label).toBe('b2');
    expect(result.ok && result.targetTimeline).toBe(1);
  });

  it('STOP TIME is truncated: a backup counts only when STOP TIME + 1 s <= target', () => {
    expect(select([b1], time('2024-01-15T05:30:00.999999+00:00')).ok).toBe(false);
    expect(select([b1], time('2024-01-15T05:30:01+00:00')).ok).toBe(true);
  });

  it('nothing ended before the target: an error listing the backups and the earliest target that works', () => {
    const result = select([b1, b2], time('2024-01-15T05:00:00+00:00'));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problem).toBe('none-fits');
    expect(result.message).toContain('no base backup ends strictly before the target (time 2024-01-15T05:00:00+00:00)');
    expect(result.message).toContain('b1  (timeline 1, start 0/2000028, stop 0/2000100, STOP TIME 2024-01-15 14:30:00 JST = 2024-01-15T05:30:00+00:00): ends at or after the target');
    expect(result.hint).toContain('the earliest target time that works is 2024-01-15T05:30:01+00:00 (backup b1 ended by then)');
  });

  it('no backups at all', () => {
    const result = select([], time('2024-01-15T05:00:00+00:00'));
    expect(!result.ok && result.problem).toBe('no-backups');
  });

  it('equal STOP TIMEs: the first in archive order, as the preflight does', () => {
    const twin = backup('twin', '0/4000028', '0/4000100', '2024-01-15 14:30:00 JST');
    const result = select([b1, twin], time('2024-01-15T06:00:00+00:00'));
    expect(result.ok && result.backup.history.label).toBe('b1');
  });

  it('lsn targets compare the stop LSN', () => {
    const lsn = (value: string): NormalizedTarget => ({ kind: 'lsn', value, written: null, inclusive: false, timeline: 'latest' });
    const atStop = select([b1, b2], lsn('0/3000100'));
    expect(atStop.ok && atStop.backup.history.label).toBe('b1');
    const result = select([b1, b2], lsn('0/3000101'));
    expect(result.ok && result.backup.history.label).toBe('b2');
    const none = select([b1, b2], lsn('0/2000100'));
    expect(!none.ok && none.hint).toContain('the earliest target LSN that works is 0/2000101');
  });

  it('immediate: the newest backup', () => {
    const result = select([b1, b2], { kind: 'immediate', value: '', written: null, inclusive: false, timeline: 'latest' });
    expect(result.ok && result.backup.history.label).toBe('b2');
  });
});

describe('timelines', () => {
  const onTl2 = backup('b3', '0/6000028', '0/6000100', '2024-01-15 15:30:00 JST', 2);
  // Taken on timeline 1 after timeline 2 branched off it at 0/5000000.
  const afterBranch = backup('b4', '0/5800028', '0/5800100', '2024-01-15 15:10:00 JST', 1);

  it('latest = the highest timeline with a history file; backups must lie on its chain', () => {
    const result = select([b1, afterBranch, onTl2], time('2024-01-15T07:00:00+00:00'), { latestTimelineInArchive: 2 });
    expect(result.ok && result.backup.history.label).toBe('b3');
    expect(result.ok && result.chain).toEqual(TL2);
    // Timeline 1 past the switch point is not on timeline 2's history.
    const older = select([b1, afterBranch], time('2024-01-15T07:00:00+00:00'), { latestTimelineInArchive: 2 });
    expect(older.ok && older.backup.history.label).toBe('b1');
  });

  it('current = the backup\'s own timeline; a number = that timeline', () => {
    expect(targetTimelineFor('current', 1, 5)).toBe(1);
    expect(targetTimelineFor('latest', 3, 2)).toBe(3);
    expect(targetTimelineFor(7, 1, 2)).toBe(7);
    const current = select([b1, afterBranch, onTl2], time('2024-01-15T07:00:00+00:00'), { latestTimelineInArchive: 2, timeline: 'current' });
    expect(current.ok && current.backup.history.label).toBe('b3');
    const one = select([b1, afterBranch, onTl2], time('2024-01-15T07:00:00+00:00'), { latestTimelineInArchive: 2, timeline: 1 });
    expect(one.ok && one.backup.history.label).toBe('b4');
  });

  it('a timeline without a history file makes its backups unusable', () => {
    const result = select([b1], time('2024-01-15T07:00:00+00:00'), { timeline: 9 });
    expect(!result.ok && result.message).toContain('timeline 9 has no history file');
  });
});

describe('an explicit backup (source.backup)', () => {
  it('is used when it fits', () => {
    const result = select([b1, b2], time('2024-01-15T06:10:00+00:00'), { choice: 'b1' });
    expect(result.ok && result.backup.history.label).toBe('b1');
  });

  it('is refused when it ends after the target, or is unknown', () => {
    const late = select([b1, b2], time('2024-01-15T05:40:00+00:00'), { choice: 'b2' });
    expect(!late.ok && late.problem).toBe('unfit');
    expect(!late.ok && late.message).toContain('backup b2 (source.backup) cannot be used for this target: ends at or after the target');
    const unknown = select([b1, b2], time('2024-01-15T06:10:00+00:00'), { choice: 'b9' });
    expect(!unknown.ok && unknown.problem).toBe('not-found');
  });
});

describe('ambiguous zone abbreviations', () => {
  // IST: India +05:30 (09:00 UTC), Israel +02:00 (12:30 UTC), Ireland +01:00 (13:30 UTC).
  const ist = backup('ist', '0/2000028', '0/2000100', '2024-01-15 14:30:00 IST');

  it('decide when every reading agrees', () => {
    expect(select([ist], time('2024-01-15T14:00:00+00:00')).ok).toBe(true);
    const before = select([ist], time('2024-01-15T08:00:00+00:00'));
    expect(!before.ok && before.problem).toBe('none-fits');
  });

  it('refuse to guess otherwise, and say how to proceed', () => {
    const result = select([ist], time('2024-01-15T12:00:00+00:00'));
    expect(!result.ok && result.problem).toBe('undecidable');
    expect(!result.ok && result.message).toContain('ambiguous');
    expect(!result.ok && result.hint).toContain('source.backup');
  });

  it('an older backup that certainly fits does not hide a newer undecidable one', () => {
    const result = select([b1, ist], time('2024-01-15T12:00:00+00:00'));
    expect(!result.ok && result.hint).toContain('b1 certainly ended before the target');
  });

  it('a named backup is used with a warning', () => {
    const result = select([ist], time('2024-01-15T12:00:00+00:00'), { choice: 'ist' });
    expect(result.ok).toBe(true);
    expect(result.ok && result.warnings[0]).toContain('cannot tell whether it ends before the target');
  });
});

describe('selectBaseBackup: PostgreSQL 17 incremental backups', () => {
  // b2 is incremental on b1 (INCREMENTAL FROM LSN = b1's start), b3 incremental on b2.
  const incremental = (label: string, start: string, stop: string, stopTime: string, from: string): BackupCandidate => {
    const c = backup(label, start, stop, stopTime);
    return { ...c, history: { ...c.history, incrementalFromLsn: parseLsn(from) } };
  };
  const i2 = incremental('i2', '0/3000028', '0/3000100', '2024-01-15 15:00:00 JST', '0/2000028');
  const i3 = incremental('i3', '0/4000028', '0/4000100', '2024-01-15 15:10:00 JST', '0/3000028');

  it('auto never picks an incremental backup as if it were full: the newest FULL one that fits', () => {
    const result = select([b1, i2, i3], time('2024-01-15T06:30:00+00:00'));
    expect(result.ok && result.backup.history.label).toBe('b1');
  });

  it('naming an incremental backup is refused, naming the full backup its chain starts from and pg_combinebackup', () => {
    const result = select([b1, i2, i3], time('2024-01-15T06:30:00+00:00'), { choice: 'i3' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain('backup i3 (source.backup) cannot be used: an incremental backup (INCREMENTAL FROM LSN 0/3000028)');
    expect(result.message).toContain('its chain starts from the full backup b1');
    expect(result.hint).toContain('set source.backup to b1');
    expect(result.hint).toContain('pg_combinebackup');
  });

  it('only incremental backups fit: none is chosen', () => {
    expect(select([i2], time('2024-01-15T06:30:00+00:00')).ok).toBe(false);
  });
});
