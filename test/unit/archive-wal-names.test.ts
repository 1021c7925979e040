import { describe, expect, it } from 'vitest';
import {
  backupHistoryFileName,
  formatLsn,
  historyFileName,
  parseBackupHistoryFileName,
  parseHistoryFileName,
  parseLsn,
  parseSegmentName,
  segmentName,
  segmentOf,
  segmentSizeFromHeader,
  segmentSizesConsistentWith,
  segmentSizesConsistentWithAll,
} from '../../src/archive/wal-names.js';

const MB = 1024n * 1024n;

describe('LSNs', () => {
  it.each([
    ['0/0', 0n],
    ['0/3000028', 0x3000028n],
    ['16/B374D848', 0x16b374d848n],
    ['FFFFFFFF/FFFFFFFF', 0xffffffffffffffffn],
  ])('%s ↔ %s', (text, value) => {
    expect(parseLsn(text)).toBe(value);
    expect(formatLsn(value)).toBe(text);
  });

  it('reads lower case and prints upper case without leading zeros', () => {
    expect(formatLsn(parseLsn('00000000/0a000028'))).toBe('0/A000028');
  });

  it.each(['', '0', '0/', '/1', '0/123456789', 'X/1', '1/2/3'])('rejects %j', (text) => {
    expect(() => parseLsn(text)).toThrow(/is not an LSN/);
  });
});

describe('segment names', () => {
  it('16 MiB segments: 256 per xlogid', () => {
    expect(segmentName(1, 2n, 16n * MB)).toBe('000000010000000000000002');
    expect(segmentName(2, 255n, 16n * MB)).toBe('0000000200000000000000FF');
    expect(segmentName(2, 256n, 16n * MB)).toBe('000000020000000100000000');
    expect(segmentName(0x1a, 20001n, 16n * MB)).toBe('0000001A0000004E00000021');
    expect(segmentOf(parseLsn('16/B374D848'), 16n * MB)).toBe(0x16b3n);
    expect(segmentName(1, segmentOf(parseLsn('16/B374D848'), 16n * MB), 16n * MB)).toBe('0000000100000016000000B3');
  });

  it('1 MiB and 1 GiB segments', () => {
    expect(segmentName(1, 4096n, 1n * MB)).toBe('000000010000000100000000');
    expect(segmentName(1, 4095n, 1n * MB)).toBe('000000010000000000000FFF');
    expect(segmentName(1, 5n, 1024n * MB)).toBe('000000010000000100000001');
  });

  it('parses names back, and refuses names this segment size cannot produce', () => {
    expect(parseSegmentName('0000000200000001000000FF', 16n * MB)).toEqual({ timeline: 2, segno: 511n });
    expect(parseSegmentName('000000010000000000000100', 16n * MB)).toBeNull();
    expect(parseSegmentName('00000001000000000000000g', 16n * MB)).toBeNull();
    expect(parseSegmentName('00000002.history', 16n * MB)).toBeNull();
  });

  it('rejects a segment size that is not a power of two from 1 MiB to 1 GiB', () => {
    expect(() => segmentName(1, 1n, 3n * MB)).toThrow(/wal_segment_size/);
    expect(() => segmentName(1, 1n, 2048n * MB)).toThrow(/wal_segment_size/);
  });

  it('history and backup history file names', () => {
    expect(historyFileName(2)).toBe('00000002.history');
    expect(historyFileName(26)).toBe('0000001A.history');
    expect(parseHistoryFileName('0000001A.history')).toBe(26);
    expect(parseHistoryFileName('0000001A.history.gz')).toBeNull();
    expect(backupHistoryFileName('000000010000000000000002', parseLsn('0/2000028'), 16n * MB)).toBe('000000010000000000000002.00000028.backup');
    expect(parseBackupHistoryFileName('000000010000000000000002.00000028.backup')).toEqual({ startSegment: '000000010000000000000002', offset: 0x28 });
    expect(parseBackupHistoryFileName('000000010000000000000002.partial')).toBeNull();
  });
});

describe('wal_segment_size without reading a segment', () => {
  it('one size fits an LSN and the file it is in', () => {
    expect(segmentSizesConsistentWith(parseLsn('0/2000028'), '000000010000000000000002')).toEqual([16n * MB]);
    expect(segmentSizesConsistentWith(parseLsn('0/2000028'), '000000010000000000000020')).toEqual([1n * MB]);
    expect(segmentSizesConsistentWith(parseLsn('0/2000028'), '000000010000000000000001')).toEqual([32n * MB]);
    expect(segmentSizesConsistentWith(parseLsn('0/2000028'), '000000010000000000000007')).toEqual([]);
  });

  it('right after a 4 GiB boundary every size fits, and the offset is the same for all', () => {
    const lsn = parseLsn('1/28');
    const sizes = segmentSizesConsistentWith(lsn, '000000010000000100000000');
    expect(sizes).toHaveLength(11);
    expect(new Set(sizes.map((s) => backupHistoryFileName('000000010000000100000000', lsn, s))).size).toBe(1);
    expect(segmentSizesConsistentWithAll([
      { lsn, file: '000000010000000100000000' },
      { lsn: parseLsn('1/2000100'), file: '000000010000000100000002' },
    ])).toEqual([16n * MB]);
  });

  it('reads xlp_seg_size from a long page header', () => {
    const head = Buffer.alloc(40);
    head.writeUInt16LE(0xd110, 0); // xlp_magic of PostgreSQL 15
    head.writeUInt16LE(0x0002, 2); // XLP_LONG_HEADER
    head.writeUInt32LE(16 * 1024 * 1024, 32);
    expect(segmentSizeFromHeader(head)).toBe(16n * MB);
    head.writeUInt16LE(0, 2);
    expect(segmentSizeFromHeader(head)).toBeNull();
    expect(segmentSizeFromHeader(Buffer.alloc(10))).toBeNull();
  });
});
