import { describe, expect, it } from 'vitest';
import { parseBackupHistory, parseBackupLabel } from '../../src/archive/backup-history.js';
import {
  chainContains,
  parseTimelineHistory,
  timelineChain,
  timelineForSegment,
} from '../../src/archive/timeline.js';
import { parseLsn } from '../../src/archive/wal-names.js';

const BACKUP = `START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
STOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)
CHECKPOINT LOCATION: 0/2000060
BACKUP METHOD: streamed
BACKUP FROM: primary
START TIME: 2026-11-24 06:31:48 WET
LABEL: nightly: 2026-11-24
START TIMELINE: 1
STOP TIME: 2026-11-24 06:31:49 WET
STOP TIMELINE: 1
`;

describe('backup history files and backup_label', () => {
  it('reads a .backup file as PostgreSQL 15 writes it', () => {
    const parsed = parseBackupHistory(BACKUP);
    expect(parsed).toEqual({
      ok: true,
      value: {
        label: 'nightly: 2026-11-24',
        startLsn: 0x2000028n,
        startWalFile: '000000010000000000000002',
        startTimeline: 1,
        startTime: '2026-11-24 06:31:48 WET',
        stopLsn: 0x2000100n,
        stopWalFile: '000000010000000000000002',
        stopTimeline: 1,
        stopTime: '2026-11-24 06:31:49 WET',
      },
    });
  });

  it('reads a backup_label (no STOP lines); old ones without START TIMELINE take it from the file name', () => {
    const label = BACKUP.split('\n').filter((l) => !l.startsWith('STOP') && !l.startsWith('START TIMELINE')).join('\n')
      .replace('file 000000010000000000000002', 'file 000000030000000000000002');
    const parsed = parseBackupLabel(label);
    expect(parsed.ok && parsed.value.startTimeline).toBe(3);
    expect(parseBackupHistory(label)).toEqual({ ok: false, message: 'has no STOP WAL LOCATION line' });
  });

  it('reads INCREMENTAL FROM LSN, which PostgreSQL 17 writes into backup_label and the .backup file of an incremental backup', () => {
    const incremental = BACKUP.replace('START TIMELINE: 1\n', 'START TIMELINE: 1\nINCREMENTAL FROM LSN: 0/1000028\nINCREMENTAL FROM TLI: 1\n');
    const parsed = parseBackupHistory(incremental);
    expect(parsed.ok && parsed.value.incrementalFromLsn).toBe(0x1000028n);
    expect(parseBackupHistory(BACKUP).ok && 'incrementalFromLsn' in (parseBackupHistory(BACKUP) as { value: object }).value).toBe(false);
    expect(parseBackupHistory(incremental.replace('0/1000028', 'zero'))).toEqual({ ok: false, message: 'has an INCREMENTAL FROM LSN line that is not an LSN: zero' });
  });

  it.each([
    [BACKUP.replace(/^LABEL: .*\n/m, ''), 'has no LABEL line'],
    [BACKUP.replace(/^STOP TIME: .*\n/m, ''), 'has no STOP TIME line'],
    [BACKUP.replace('0/2000028 (file', '0/2000028 (segment'), 'START WAL LOCATION line that is not'],
    [BACKUP.replace('START TIMELINE: 1', 'START TIMELINE: one'), 'START TIMELINE line that is not a timeline number'],
    ['', 'has no START WAL LOCATION line'],
  ])('refuses a malformed file (%#)', (text, message) => {
    const parsed = parseBackupHistory(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.message).toContain(message);
  });
});

describe('timeline history', () => {
  const THREE = '# written by hand\n1\t0/3000158\tno recovery target specified\n\n2\t0/5000A28\tbefore 2026-11-24 06:31:50.1+00\n';

  it('reads the ancestors and builds the chain, oldest first', () => {
    const parsed = parseTimelineHistory(THREE);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value).toEqual([
      { parentTimeline: 1, switchLsn: 0x3000158n, reason: 'no recovery target specified' },
      { parentTimeline: 2, switchLsn: 0x5000a28n, reason: 'before 2026-11-24 06:31:50.1+00' },
    ]);
    expect(timelineChain(3, parsed.value)).toEqual([
      { timeline: 1, beginLsn: 0n },
      { timeline: 2, beginLsn: 0x3000158n },
      { timeline: 3, beginLsn: 0x5000a28n },
    ]);
    expect(timelineChain(1, [])).toEqual([{ timeline: 1, beginLsn: 0n }]);
  });

  it.each([
    ['1 0/3000158\nx', 'line 2 is not'],
    ['2\t0/3000158\n1\t0/4000000', 'must increase'],
    ['1\t0/5000000\n2\t0/4000000', 'must increase'],
  ])('refuses %j', (text, message) => {
    const parsed = parseTimelineHistory(text);
    expect(!parsed.ok && parsed.message).toContain(message);
  });

  const MB16 = 16n * 1024n * 1024n;
  const chain = [
    { timeline: 1, beginLsn: 0n },
    { timeline: 2, beginLsn: parseLsn('0/3000158') },
    { timeline: 4, beginLsn: parseLsn('0/5000A28') },
  ];

  it('reads the segment holding a switch point from the new timeline', () => {
    expect(timelineForSegment(chain, 2n, MB16)).toBe(1);
    expect(timelineForSegment(chain, 3n, MB16)).toBe(2);
    expect(timelineForSegment(chain, 4n, MB16)).toBe(2);
    expect(timelineForSegment(chain, 5n, MB16)).toBe(4);
    expect(timelineForSegment(chain, 900n, MB16)).toBe(4);
  });

  it('two switches in one segment: the newest timeline wins', () => {
    const tight = [{ timeline: 1, beginLsn: 0n }, { timeline: 2, beginLsn: 0x3000100n }, { timeline: 3, beginLsn: 0x3000200n }];
    expect(timelineForSegment(tight, 3n, MB16)).toBe(3);
  });

  it('knows which positions lie on the chain', () => {
    expect(chainContains(chain, 1, parseLsn('0/3000157'))).toBe(true);
    expect(chainContains(chain, 1, parseLsn('0/3000158'))).toBe(false);
    expect(chainContains(chain, 2, parseLsn('0/4000000'))).toBe(true);
    expect(chainContains(chain, 4, parseLsn('9/0'))).toBe(true);
    expect(chainContains(chain, 3, parseLsn('0/4000000'))).toBe(false);
  });
});
