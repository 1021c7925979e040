/**
 * The instant a backup's STOP TIME stands for.
 *
 * PostgreSQL writes `STOP TIME: 2026-11-24 15:21:44 JST` with strftime("%Y-%m-%d
 * %H:%M:%S %Z") in the primary's log_timezone: whole seconds (truncated) and a zone
 * ABBREVIATION from the tz database — a name (JST, CET, WEST), a numeric one for zones
 * without a name (+03, -0530), or UTC/GMT. An abbreviation is not always one offset
 * (IST is India, Israel and Ireland), so a reading is an interval [earliest, latest]
 * of instants: one point when the text is unambiguous, the spread of the possible
 * meanings otherwise, and the widest span of UTC offsets (-12:00 .. +14:00) when the
 * abbreviation is unknown. Backup selection decides only what holds for every
 * reading in the interval.
 */
import { parseTargetTime } from '../plan/time.js';
import {
  AMBIGUOUS_ABBREVIATIONS,
  POSTGRES_DEFAULT_ABBREVIATIONS,
  TZDATA_EXTRA_ABBREVIATIONS,
  type AbbreviationMeaning,
} from './timezone-abbreviations.js';

export interface StopTime {
  /** As written in the backup history file. */
  written: string;
  /** Seconds since 1970 (UTC) of the earliest and latest instant the text can mean. */
  earliest: number;
  latest: number;
  /** Canonical UTC "YYYY-MM-DDTHH:MM:SS+00:00" when the instant is certain, else null. */
  utc: string | null;
  /** Why the instant is uncertain (ambiguous or unknown abbreviation), else null. */
  uncertainty: string | null;
}

export type StopTimeResult = { ok: true; stopTime: StopTime } | { ok: false; message: string };

const STOP_TIME_SHAPE = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) (\S+)$/;
const NUMERIC_ZONE = /^[+-]\d{2}(?::?\d{2})?$/;
const ALPHABETIC_ZONE = /^[A-Za-z]{1,6}$/;
/** UTC offsets in use range from -12:00 to +14:00. */
const MOST_WEST_SECONDS = -12 * 3600;
const MOST_EAST_SECONDS = 14 * 3600;

export function parseStopTime(written: string): StopTimeResult {
  const parts = stopTimeParts(written);
  if (!parts) return notPostgresShape(written);
  const { date, time, zone } = parts;
  const local = `${date}T${time}`;
  const at = (offsetSeconds: number): number | null => epochOf(`${local}${formatOffset(offsetSeconds)}`);

  if (NUMERIC_ZONE.test(zone)) return exact(written, epochOf(`${local}${zone}`), `offset ${zone}`);
  const ambiguous = ambiguousMeanings(zone);
  if (ambiguous) {
    const readings = ambiguous.map((m) => ({ ...m, epoch: at(m.offsetSeconds) }));
    if (readings.some((r) => r.epoch === null)) return invalid(written);
    const meanings = readings.map((r) => `${formatOffset(r.offsetSeconds)} ${r.meaning}`).join('; ');
    return uncertain(written, readings.map((r) => r.epoch as number), `the zone abbreviation ${zone} is ambiguous: ${meanings}`);
  }
  const fixed = fixedMeaning(zone);
  if (typeof fixed === 'number') return exact(written, at(fixed), zone);
  if (typeof fixed === 'string') {
    // A zone-dependent abbreviation (MSK = Europe/Moscow): that zone's offset then.
    const parsed = parseTargetTime(`${local} ${fixed}`);
    if (parsed.ok) return exact(written, epochOf(parsed.canonical), zone);
    return unknown(written, local, `${zone} (${fixed}) does not name one instant at ${date} ${time}: ${parsed.message}`);
  }
  if (ALPHABETIC_ZONE.test(zone)) {
    return unknown(written, local, `the zone abbreviation ${zone} is not one PostgreSQL or pitr knows`);
  }
  return invalid(written);
}

/** "YYYY-MM-DD HH:MM:SS ZONE" split into its parts, or null when it is not that shape. */
function stopTimeParts(written: string): { date: string; time: string; zone: string } | null {
  const match = STOP_TIME_SHAPE.exec(written.trim());
  if (!match) return null;
  const [, date, time, zone] = match as unknown as [string, string, string, string];
  return { date, time, zone };
}

function notPostgresShape(written: string): StopTimeResult {
  return { ok: false, message: `STOP TIME "${written}" is not "YYYY-MM-DD HH:MM:SS ZONE" as PostgreSQL writes it` };
}

/** The meanings of an abbreviation that stands for several offsets (IST), else undefined. */
function ambiguousMeanings(abbreviation: string): readonly AbbreviationMeaning[] | undefined {
  return AMBIGUOUS_ABBREVIATIONS[abbreviation.toUpperCase()];
}

/**
 * What a one-meaning abbreviation stands for: its UTC offset in seconds, or the tz zone
 * whose offset it takes (MSK = Europe/Moscow), or undefined when neither PostgreSQL's
 * default set nor the tz database extras know it. The extras are looked up as written
 * first, then upper-cased.
 */
function fixedMeaning(abbreviation: string): number | string | undefined {
  const upper = abbreviation.toUpperCase();
  return POSTGRES_DEFAULT_ABBREVIATIONS[upper] ?? TZDATA_EXTRA_ABBREVIATIONS[abbreviation] ?? TZDATA_EXTRA_ABBREVIATIONS[upper];
}

/** Seconds since 1970 of a canonical or offset-carrying ISO time, or null. */
function epochOf(iso: string): number | null {
  const parsed = parseTargetTime(iso);
  if (!parsed.ok) return null;
  return Date.parse(parsed.canonical) / 1000;
}

function exact(written: string, epoch: number | null, zone: string): StopTimeResult {
  if (epoch === null) return invalid(written, zone);
  return { ok: true, stopTime: { written, earliest: epoch, latest: epoch, utc: formatUtcSeconds(epoch), uncertainty: null } };
}

/** An instant known only to lie among `epochs` (from the earliest to the latest). */
function uncertain(written: string, epochs: number[], why: string): StopTimeResult {
  return { ok: true, stopTime: { written, earliest: Math.min(...epochs), latest: Math.max(...epochs), utc: null, uncertainty: why } };
}

/** An unknown abbreviation: the local time under every UTC offset in use. */
function unknown(written: string, local: string, why: string): StopTimeResult {
  const asUtc = epochOf(`${local}+00:00`);
  if (asUtc === null) return invalid(written);
  return uncertain(written, [asUtc - MOST_EAST_SECONDS, asUtc - MOST_WEST_SECONDS], why);
}

function invalid(written: string, zone?: string): StopTimeResult {
  return {
    ok: false,
    message: `STOP TIME "${written}" is not a valid time${zone ? ` in ${zone}` : ''}`,
  };
}

/** 1705329000 → "2024-01-15T14:30:00+00:00". */
export function formatUtcSeconds(epochSeconds: number): string {
  return `${new Date(epochSeconds * 1000).toISOString().slice(0, 19)}+00:00`;
}

/** Microseconds since 1970 of a canonical target time ("...T14:30:00[.ffffff]+00:00"). */
export function canonicalTimeToMicros(canonical: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00:00$/.exec(canonical);
  if (!match) throw new Error(`"${canonical}" is not a canonical UTC time`);
  const seconds = Date.parse(`${match[1]}Z`) / 1000;
  return seconds * 1_000_000 + Number((match[2] ?? '').padEnd(6, '0'));
}

/** Microseconds since 1970 → "2024-01-15T14:30:00.123456+00:00" (fraction only when non-zero). */
export function formatUtcMicros(micros: number): string {
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = micros - seconds * 1_000_000;
  const base = formatUtcSeconds(seconds).slice(0, 19);
  return `${base}${fraction === 0 ? '' : `.${String(fraction).padStart(6, '0')}`}+00:00`;
}

function formatOffset(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const magnitude = Math.abs(offsetSeconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${sign}${pad(Math.floor(magnitude / 3600))}:${pad(Math.floor((magnitude % 3600) / 60))}`;
}

/**
 * STOP TIME read in the zone that wrote it (postgres.logTimezone), the preflight's rule
 * (00-preflight.sh stop_time_us, which asks the server in its log_timezone): of all
 * instants, those `zone` shows as exactly that local time, then among them the ones whose offset the abbreviation can
 * stand for. One instant: exact. None: the zone cannot have written it. Two (an hour a
 * DST change repeats, and an abbreviation that does not decide): uncertain.
 */
export function parseStopTimeInZone(written: string, zone: string): StopTimeResult {
  const parts = stopTimeParts(written);
  if (!parts) return notPostgresShape(written);
  const { date, time, zone: abbreviation } = parts;
  const local = `${date} ${time}`;
  const asUtc = Date.parse(`${date}T${time}Z`) / 1000;
  if (Number.isNaN(asUtc)) return invalid(written);
  const instants = new Set<number>();
  // Every quarter-hour offset in use (-12:00 .. +14:00); the zone says which fit.
  for (let quarter = MOST_WEST_SECONDS / 900; quarter <= MOST_EAST_SECONDS / 900; quarter++) {
    const candidate = asUtc - quarter * 900;
    const shown = wallClockIn(zone, candidate);
    if (shown.local === local && abbreviationAllows(abbreviation, shown.offsetSeconds)) instants.add(candidate);
  }
  if (instants.size === 0) {
    return { ok: false, message: `STOP TIME "${written}" is not a time ${zone} shows (postgres.logTimezone): the backup was not written by a server in that zone` };
  }
  const epochs = [...instants];
  if (epochs.length === 1) return exact(written, epochs[0]!, zone);
  return uncertain(written, epochs, `${local} happens twice in ${zone} and ${abbreviation} does not say which`);
}

/** The local time ("YYYY-MM-DD HH:MM:SS") and UTC offset `zone` shows at an instant. */
function wallClockIn(zone: string, epochSeconds: number): { local: string; offsetSeconds: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(new Date(epochSeconds * 1000))
      .map((p) => [p.type, p.value]),
  );
  const local = `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  const asUtc = Date.parse(`${local.replace(' ', 'T')}Z`) / 1000;
  return { local, offsetSeconds: asUtc - epochSeconds };
}

/**
 * Whether PostgreSQL may have written `abbreviation` for a zone at this offset: numeric
 * ones say the offset; known names have theirs (any meaning of an ambiguous one); a
 * name neither PostgreSQL nor pitr knows cannot be checked and is accepted (the zone
 * itself then decides).
 */
function abbreviationAllows(abbreviation: string, offsetSeconds: number): boolean {
  if (NUMERIC_ZONE.test(abbreviation)) {
    const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(abbreviation)!;
    const seconds = Number(m[2]) * 3600 + Number(m[3] ?? '0') * 60;
    return (m[1] === '-' ? -seconds : seconds) === offsetSeconds;
  }
  const ambiguous = ambiguousMeanings(abbreviation);
  if (ambiguous) return ambiguous.some((m) => m.offsetSeconds === offsetSeconds);
  const fixed = fixedMeaning(abbreviation);
  if (typeof fixed === 'number') return fixed === offsetSeconds;
  return true;
}
