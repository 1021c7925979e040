/**
 * WAL positions and file names, the arithmetic PostgreSQL's xlog_internal.h does.
 *
 * LSNs are 64-bit, so they are BigInts here. A segment number (segno) is the LSN
 * divided by wal_segment_size; a segment file is named
 * TTTTTTTT XXXXXXXX YYYYYYYY (timeline, segno / segmentsPerXLogId, segno % segmentsPerXLogId)
 * in upper-case hex, where segmentsPerXLogId = 2^32 / wal_segment_size.
 * The same rules live in the generated bash (lib/archive.sh: lsn_to_int, seg_name, seg_no).
 */

/** wal_segment_size is a power of two from 1 MiB to 1 GiB (initdb --wal-segsize). */
export const WAL_SEGMENT_SIZES: readonly bigint[] = [20n, 21n, 22n, 23n, 24n, 25n, 26n, 27n, 28n, 29n, 30n].map((bits) => 1n << bits);

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const SEGMENT_NAME = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const HISTORY_NAME = /^([0-9A-F]{8})\.history$/;
const BACKUP_HISTORY_NAME = /^([0-9A-F]{24})\.([0-9A-F]{8})\.backup$/;

/** "16/B374D848" → 0x16B374D848n; throws on anything else. */
export function parseLsn(text: string): bigint {
  const match = LSN_TEXT.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not an LSN (expected X/X in hex, e.g. 0/3000028)`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** 0x16B374D848n → "16/B374D848" (upper case, no leading zeros, as PostgreSQL prints). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function assertSegmentSize(segmentSize: bigint): void {
  if (!WAL_SEGMENT_SIZES.includes(segmentSize)) {
    throw new Error(`wal_segment_size ${segmentSize} is not a power of two between 1 MiB and 1 GiB`);
  }
}

function segmentsPerXLogId(segmentSize: bigint): bigint {
  assertSegmentSize(segmentSize);
  return 0x100000000n / segmentSize;
}

/** The segment that holds the byte at `lsn`. */
export function segmentOf(lsn: bigint, segmentSize: bigint): bigint {
  assertSegmentSize(segmentSize);
  return lsn / segmentSize;
}

export function hex8(value: bigint | number): string {
  return BigInt(value).toString(16).toUpperCase().padStart(8, '0');
}

/** The 24-hex-digit file name of segment `segno` on `timeline`. */
export function segmentName(timeline: number, segno: bigint, segmentSize: bigint): string {
  const perId = segmentsPerXLogId(segmentSize);
  return `${hex8(timeline)}${hex8(segno / perId)}${hex8(segno % perId)}`;
}

export function isSegmentName(name: string): boolean {
  return SEGMENT_NAME.test(name);
}

/** The timeline and segment number a segment file name stands for, or null. */
export function parseSegmentName(name: string, segmentSize: bigint): { timeline: number; segno: bigint } | null {
  const match = SEGMENT_NAME.exec(name);
  if (!match) return null;
  const perId = segmentsPerXLogId(segmentSize);
  const low = BigInt(`0x${match[3]}`);
  if (low >= perId) return null; // not a name PostgreSQL would write for this segment size
  return { timeline: Number.parseInt(match[1]!, 16), segno: BigInt(`0x${match[2]}`) * perId + low };
}

/** "00000002.history" for timeline 2. */
export function historyFileName(timeline: number): string {
  return `${hex8(timeline)}.history`;
}

/** The timeline of a "0000000N.history" name, or null. */
export function parseHistoryFileName(name: string): number | null {
  const match = HISTORY_NAME.exec(name);
  return match ? Number.parseInt(match[1]!, 16) : null;
}

/** "<segment>.<offset>.backup", the name PostgreSQL archives a backup history file under. */
export function backupHistoryFileName(startSegment: string, startLsn: bigint, segmentSize: bigint): string {
  assertSegmentSize(segmentSize);
  return `${startSegment}.${hex8(startLsn % segmentSize)}.backup`;
}

export function parseBackupHistoryFileName(name: string): { startSegment: string; offset: number } | null {
  const match = BACKUP_HISTORY_NAME.exec(name);
  return match ? { startSegment: match[1]!, offset: Number.parseInt(match[2]!, 16) } : null;
}

/**
 * The segment sizes under which `lsn` lies in the segment file `fileName` (both from
 * one line of a backup_label or .backup file, e.g. "0/2000028 (file 000000010000000000000002)").
 * For any LSN past the first megabyte exactly one size fits, so this tells the
 * archive's wal_segment_size without reading a segment.
 */
export function segmentSizesConsistentWith(lsn: bigint, fileName: string): bigint[] {
  const timeline = Number.parseInt(fileName.slice(0, 8), 16);
  return WAL_SEGMENT_SIZES.filter((size) => segmentName(timeline, lsn / size, size) === fileName);
}

/**
 * wal_segment_size as recorded in a segment's long page header (xlp_seg_size, a
 * little-endian uint32 at byte 32 of XLogLongPageHeaderData), or null when the bytes
 * do not start a WAL segment.
 */
export function segmentSizeFromHeader(head: Uint8Array): bigint | null {
  if (head.length < 40) return null;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const info = view.getUint16(2, true);
  const XLP_LONG_HEADER = 0x0002;
  if ((info & XLP_LONG_HEADER) === 0) return null;
  const size = BigInt(view.getUint32(32, true));
  return WAL_SEGMENT_SIZES.includes(size) ? size : null;
}

/**
 * wal_segment_size from (LSN, segment file) pairs of backup labels and history files:
 * the sizes consistent with all of them (one, unless every LSN lies in the first
 * segment after a 4 GiB boundary).
 */
export function segmentSizesConsistentWithAll(pairs: readonly { lsn: bigint; file: string }[]): bigint[] {
  let sizes: bigint[] | null = null;
  for (const { lsn, file } of pairs) {
    const fits = segmentSizesConsistentWith(lsn, file);
    sizes = sizes === null ? fits : sizes.filter((size) => fits.includes(size));
  }
  return sizes ?? [];
}
