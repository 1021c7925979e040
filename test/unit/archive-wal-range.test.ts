import { describe, expect, it } from 'vitest';
import type { BackupHistory } from '../../src/archive/backup-history.js';
import type { ChainLink } from '../../src/archive/timeline.js';
import {
  chainHistoryFiles,
  decideWalRange,
  scanWalRange,
  walSegmentsBetween,
  type WalRangeInput,
} from '../../src/archive/wal-range.js';
import { latestTransactionMicros } from '../../src/archive/waldump.js';
import { parseLsn, segmentName } from '../../src/archive/wal-names.js';
import type { NormalizedTarget } from '../../src/plan/normalized.js';

const SEG = 16n * 1024n * 1024n;
const CHAIN: ChainLink[] = [{ timeline: 1, beginLsn: 0n }, { timeline: 2, beginLsn: parseLsn('0/5000A28') }];
const name = (tli: number, segno: number) => segmentName(tli, BigInt(segno), SEG);

const BACKUP: BackupHistory = {
  label: 'b1',
  startLsn: parseLsn('0/3000028'),
  startWalFile: name(1, 3),
  startTimeline: 1,
  startTime: '',
  stopLsn: parseLsn('0/3000100'),
  stopWalFile: name(1, 3),
  stopTimeline: 1,
  stopTime: '',
};

const time = (value: string): NormalizedTarget => ({ kind: 'time', value, written: value, inclusive: false, timeline: 'latest' });

describe('walSegmentsBetween and the chain', () => {
  it('switches to the new timeline at the segment holding the switch point', () => {
    expect(walSegmentsBetween(3n, 7n, CHAIN, SEG)).toEqual([name(1, 3), name(1, 4), name(2, 5), name(2, 6), name(2, 7)]);
    expect(chainHistoryFiles(CHAIN)).toEqual(['00000002.history']);
  });
});

describe('scanWalRange', () => {
  // Timeline 1 went on after the switch (segments 5, 6 of timeline 1 exist): they are not read.
  const archive = new Set([name(1, 2), name(1, 3), name(1, 4), name(1, 5), name(1, 6), name(2, 5), name(2, 6), name(2, 7)]);

  it('runs from the backup\'s start along the chain to the archive\'s end', () => {
    expect(scanWalRange(BACKUP.startLsn, CHAIN, SEG, archive)).toEqual({ firstSegno: 3n, lastContiguous: 7n, nextPresent: null });
  });

  it('stops at a gap and finds the next segment of the chain after it', () => {
    const gap = new Set([...archive].filter((n) => n !== name(2, 6)));
    gap.add(name(2, 9));
    gap.add(name(1, 8)); // timeline 1 is not read there
    expect(scanWalRange(BACKUP.startLsn, CHAIN, SEG, gap)).toEqual({ firstSegno: 3n, lastContiguous: 5n, nextPresent: 7n });
  });

  it('the first segment missing', () => {
    expect(scanWalRange(BACKUP.startLsn, CHAIN, SEG, new Set([name(1, 4)]))).toEqual({ firstSegno: 3n, lastContiguous: 2n, nextPresent: 4n });
  });
});

describe('decideWalRange', () => {
  const base = (overrides: Partial<WalRangeInput>): WalRangeInput => ({
    scan: { firstSegno: 3n, lastContiguous: 7n, nextPresent: null },
    target: time('2024-01-15T06:00:00+00:00'),
    backup: BACKUP,
    chain: CHAIN,
    segmentSize: SEG,
    probe: { latestTransactionMicros: Date.parse('2024-01-15T06:00:05Z') * 1000, segmentsRead: 1 },
    ...overrides,
  });

  it('time target reached: every contiguous segment', () => {
    expect(decideWalRange(base({}))).toEqual({ ok: true, first: 3n, last: 7n, endsAt: 'archive-end', warnings: [] });
  });

  it('time target beyond the archive: the latest reachable time', () => {
    const result = decideWalRange(base({ probe: { latestTransactionMicros: Date.parse('2024-01-15T05:59:00.5Z') * 1000, segmentsRead: 1 } }));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problem).toBe('target-beyond-archive');
    expect(!result.ok && result.message).toContain(`later than the last transaction in the archive (2024-01-15T05:59:00.500000+00:00, in ${name(2, 7)})`);
    expect(!result.ok && result.hint).toContain('choose a target at or before 2024-01-15T05:59:00.500000+00:00');
  });

  it('time target after a gap: the missing segments and the latest reachable time', () => {
    const result = decideWalRange(base({
      scan: { firstSegno: 3n, lastContiguous: 5n, nextPresent: 8n },
      probe: { latestTransactionMicros: Date.parse('2024-01-15T05:00:00Z') * 1000, segmentsRead: 1 },
    }));
    expect(!result.ok && result.problem).toBe('gap-before-target');
    expect(!result.ok && result.message).toContain(`segments ${name(2, 6)} to ${name(2, 7)} are missing`);
    expect(!result.ok && result.message).toContain('ended at 2024-01-15T05:00:00+00:00');
  });

  it('a gap after the target is a warning; no pg_waldump is a warning', () => {
    const gapAfter = decideWalRange(base({ scan: { firstSegno: 3n, lastContiguous: 5n, nextPresent: 7n } }));
    expect(gapAfter.ok && gapAfter.endsAt).toBe('gap');
    expect(gapAfter.ok && gapAfter.warnings[0]).toContain(`missing: ${name(2, 6)}`);
    const blind = decideWalRange(base({ probe: null }));
    expect(blind.ok && blind.warnings[0]).toContain('pg_waldump was not run');
    // The probe stopped at its limit before the backup's start: nothing is known.
    const quiet = decideWalRange(base({ scan: { firstSegno: 3n, lastContiguous: 30n, nextPresent: null }, probe: { latestTransactionMicros: null, segmentsRead: 16 } }));
    expect(quiet.ok && quiet.warnings[0]).toContain('no transaction found in the last 16 archived segments');
  });

  it('no transaction at all from the backup\'s start: no time target is reachable (the preflight\'s rule)', () => {
    const empty = decideWalRange(base({ probe: { latestTransactionMicros: null, segmentsRead: 5 } }));
    expect(!empty.ok && empty.problem).toBe('target-beyond-archive');
    expect(!empty.ok && empty.message).toContain('holds no transaction at all');
    const beforeGap = decideWalRange(base({ scan: { firstSegno: 3n, lastContiguous: 5n, nextPresent: 7n }, probe: { latestTransactionMicros: null, segmentsRead: 3 } }));
    expect(!beforeGap.ok && beforeGap.problem).toBe('gap-before-target');
  });

  it('the backup\'s first segment missing', () => {
    const result = decideWalRange(base({ scan: { firstSegno: 3n, lastContiguous: 2n, nextPresent: null } }));
    expect(!result.ok && result.problem).toBe('first-missing');
  });

  it('lsn target: up to its segment, which must be archived', () => {
    const lsn: NormalizedTarget = { kind: 'lsn', value: '0/6000010', written: null, inclusive: false, timeline: 'latest' };
    expect(decideWalRange(base({ target: lsn, probe: null }))).toMatchObject({ ok: true, first: 3n, last: 6n, endsAt: 'target-lsn' });
    const beyond = decideWalRange(base({ target: { ...lsn, value: '0/9000000' }, probe: null }));
    expect(!beyond.ok && beyond.problem).toBe('target-beyond-archive');
  });

  it('immediate: up to the backup\'s stop segment', () => {
    const immediate: NormalizedTarget = { kind: 'immediate', value: '', written: null, inclusive: false, timeline: 'latest' };
    expect(decideWalRange(base({ target: immediate, probe: null }))).toMatchObject({ ok: true, last: 3n, endsAt: 'backup-end' });
  });

  it('xid and restore point targets refuse any gap', () => {
    const xid: NormalizedTarget = { kind: 'xid', value: '1234', written: null, inclusive: false, timeline: 'latest' };
    expect(decideWalRange(base({ target: xid, probe: null })).ok).toBe(true);
    const gap = decideWalRange(base({ target: xid, probe: null, scan: { firstSegno: 3n, lastContiguous: 5n, nextPresent: 7n } }));
    expect(!gap.ok && gap.problem).toBe('gap');
  });
});

describe('pg_waldump output', () => {
  it('finds the newest COMMIT or ABORT (TZ=UTC)', () => {
    const output = [
      'rmgr: Transaction len (rec/tot):     34/    34, tx:        725, lsn: 0/04000028, prev 0/030000C0, desc: COMMIT 2026-11-24 06:31:50.322353 UTC',
      'rmgr: Transaction len (rec/tot):     34/    34, tx:        727, lsn: 0/04000098, prev 0/04000060, desc: ABORT 2026-11-24 06:31:59.951349 UTC',
      'rmgr: Transaction len (rec/tot):     34/    34, tx:        726, lsn: 0/04000090, prev 0/04000050, desc: COMMIT 2026-11-24 06:31:58 UTC; inval msgs: catcache 7',
      'pg_waldump: error: error in WAL record at 0/40000D0: invalid record length',
    ].join('\n');
    expect(latestTransactionMicros(output)).toBe(Date.parse('2026-11-24T06:31:59.951Z') * 1000 + 349);
    expect(latestTransactionMicros('rmgr: Heap len ... desc: INSERT off 2')).toBeNull();
  });
});
