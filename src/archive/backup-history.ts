/**
 * Backup history files (`<segment>.<offset>.backup`, archived by PostgreSQL when a
 * base backup ends) and backup_label files (the first file of a base backup) share
 * one "KEY: value" format:
 *
 *   START WAL LOCATION: 0/2000028 (file 000000010000000000000002)
 *   STOP WAL LOCATION: 0/2000100 (file 000000010000000000000002)     (.backup only)
 *   CHECKPOINT LOCATION: 0/2000060
 *   BACKUP METHOD: streamed
 *   BACKUP FROM: primary
 *   START TIME: 2024-01-15 14:30:00 JST
 *   LABEL: b1
 *   START TIMELINE: 1
 *   STOP TIME: 2024-01-15 14:30:01 JST                                 (.backup only)
 *   STOP TIMELINE: 1                                                   (.backup only)
 *   INCREMENTAL FROM LSN: 0/1000028     (PostgreSQL 17+, pg_basebackup --incremental only)
 *   INCREMENTAL FROM TLI: 1
 *
 * An incremental backup (17+) holds only what changed since the backup that started at
 * INCREMENTAL FROM LSN: restored alone it is not a data directory (pg_combinebackup must
 * rebuild a full one from the chain first).
 */
import { isSegmentName, parseLsn } from './wal-names.js';

export interface BackupLabel {
  label: string;
  startLsn: bigint;
  /** The segment named on the START WAL LOCATION line. */
  startWalFile: string;
  startTimeline: number;
  /** As written, e.g. "2024-01-15 14:30:00 JST". */
  startTime: string;
  /** INCREMENTAL FROM LSN (an incremental backup, 17+): the start of the backup it builds on. */
  incrementalFromLsn?: bigint;
}

export interface BackupHistory extends BackupLabel {
  stopLsn: bigint;
  stopWalFile: string;
  stopTimeline: number;
  stopTime: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

const LOCATION = /^([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}) \(file ([0-9A-F]{24})\)$/;

function fieldsOf(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0 && !fields.has(line.slice(0, colon))) fields.set(line.slice(0, colon), line.slice(colon + 2).replace(/\r$/, ''));
  }
  return fields;
}

function location(fields: Map<string, string>, key: string): { lsn: bigint; file: string } | string {
  const value = fields.get(key);
  if (value === undefined) return `has no ${key} line`;
  const match = LOCATION.exec(value);
  if (!match || !isSegmentName(match[2]!)) return `has a ${key} line that is not "X/X (file <segment>)": ${value}`;
  return { lsn: parseLsn(match[1]!), file: match[2]! };
}

function timeline(fields: Map<string, string>, key: string, fallback: number | null): number | string {
  const value = fields.get(key);
  if (value === undefined) return fallback ?? `has no ${key} line`;
  if (!/^[1-9][0-9]*$/.test(value)) return `has a ${key} line that is not a timeline number: ${value}`;
  return Number(value);
}

export function parseBackupLabel(text: string): Parsed<BackupLabel> {
  const fields = fieldsOf(text);
  const start = location(fields, 'START WAL LOCATION');
  if (typeof start === 'string') return { ok: false, message: start };
  // backup_label of PostgreSQL < 11 has no START TIMELINE; the segment name carries it.
  const startTimeline = timeline(fields, 'START TIMELINE', Number.parseInt(start.file.slice(0, 8), 16));
  if (typeof startTimeline === 'string') return { ok: false, message: startTimeline };
  const label = fields.get('LABEL');
  if (label === undefined) return { ok: false, message: 'has no LABEL line' };
  const startTime = fields.get('START TIME');
  if (startTime === undefined) return { ok: false, message: 'has no START TIME line' };
  const incremental = fields.get('INCREMENTAL FROM LSN');
  if (incremental !== undefined && !/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/.test(incremental)) {
    return { ok: false, message: `has an INCREMENTAL FROM LSN line that is not an LSN: ${incremental}` };
  }
  const value: BackupLabel = { label, startLsn: start.lsn, startWalFile: start.file, startTimeline, startTime };
  if (incremental !== undefined) value.incrementalFromLsn = parseLsn(incremental);
  return { ok: true, value };
}

export function parseBackupHistory(text: string): Parsed<BackupHistory> {
  const base = parseBackupLabel(text);
  if (!base.ok) return base;
  const fields = fieldsOf(text);
  const stop = location(fields, 'STOP WAL LOCATION');
  if (typeof stop === 'string') return { ok: false, message: stop };
  const stopTimeline = timeline(fields, 'STOP TIMELINE', base.value.startTimeline);
  if (typeof stopTimeline === 'string') return { ok: false, message: stopTimeline };
  const stopTime = fields.get('STOP TIME');
  if (stopTime === undefined) return { ok: false, message: 'has no STOP TIME line' };
  return { ok: true, value: { ...base.value, stopLsn: stop.lsn, stopWalFile: stop.file, stopTimeline, stopTime } };
}
