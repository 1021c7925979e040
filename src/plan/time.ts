/**
 * Parsing of recovery target times.
 *
 * PostgreSQL reads a recovery_target_time without an offset in the recovered server's
 * `timezone` setting; with Asia/Tokyo a recovery silently stopped nine hours early.
 * So a plan's time must say which instant it means: a UTC offset or an IANA zone.
 * We resolve it here, once, to a canonical UTC string that backup selection and
 * recovery_target_time both use.
 *
 * Calendar arithmetic is done on plain integers (days since 1970-01-01) rather than
 * with Date, whose two-digit-year and local-time quirks we do not want near a restore.
 */

export type TimeParseResult =
  | { ok: true; canonical: string }
  | { ok: false; message: string };

/** The accepted shapes, for error messages. */
export const ACCEPTED_TIME_FORMS =
  'YYYY-MM-DDTHH:MM[:SS[.ffffff]] followed by Z, +HH:MM, +HHMM, +HH or a space and an IANA zone name';

interface LocalDateTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** Fraction of a second as written (digits only), "" when none was given. */
  fraction: string;
}

const TIME_SHAPE =
  /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})[T ](?<hour>\d{2}):(?<minute>\d{2})(?::(?<second>\d{2})(?:\.(?<fraction>\d+))?)?(?<zonePart>.*)$/;

const OFFSET_SHAPE = /^(?<sign>[+-])(?<hours>\d{2})(?::?(?<minutes>\d{2}))?$/;
const ZONE_NAME_SHAPE = /^ +(?<zone>[A-Za-z][A-Za-z0-9_+\-/]*)$/;

/** Largest UTC offset in use anywhere (Kiribati is +14:00). */
const MAX_OFFSET_SECONDS = 14 * 3600;
const MICROSECOND_DIGITS = 6;

/**
 * Parse a target time written in a plan and return its canonical UTC form
 * `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00` (six fraction digits when a fraction was
 * written, none otherwise), or a message that says how to fix it.
 */
export function parseTargetTime(written: string): TimeParseResult {
  const match = TIME_SHAPE.exec(written);
  const groups = match?.groups;
  if (!groups) {
    return fail(
      `target time "${written}" is not a timestamp; write ${ACCEPTED_TIME_FORMS}, e.g. "2024-01-15T14:30:00+00:00"`,
    );
  }
  const local: LocalDateTime = {
    year: Number(groups.year),
    month: Number(groups.month),
    day: Number(groups.day),
    hour: Number(groups.hour),
    minute: Number(groups.minute),
    second: Number(groups.second ?? '0'),
    fraction: groups.fraction ?? '',
  };
  const invalid = describeInvalidLocalTime(local);
  if (invalid) return fail(`target time "${written}" ${invalid}`);

  const zonePart = groups.zonePart ?? '';
  if (zonePart === '') {
    return fail(
      `target time "${written}" has no UTC offset or zone, so PostgreSQL would read it in the server's timezone; ` +
        `write "${withOffset(local, 0)}" if it is UTC, or add its offset or zone, ` +
        `e.g. "${withOffset(local, 3600)}" or "${formatWallClock(local)}${local.fraction ? `.${local.fraction}` : ''} Europe/Berlin"`,
    );
  }
  const offset = resolveOffsetSeconds(written, local, zonePart);
  if (!offset.ok) return offset;
  const localSeconds = secondsSinceEpochAsIfUtc(local);
  return { ok: true, canonical: formatUtc(localSeconds - offset.seconds, local.fraction) };
}

function fail(message: string): { ok: false; message: string } {
  return { ok: false, message };
}

/** Why a wall-clock reading cannot exist on any calendar, or null when it can. */
function describeInvalidLocalTime(local: LocalDateTime): string | null {
  if (local.year < 1) return 'has year 0000, which does not exist';
  if (local.month < 1 || local.month > 12) return `has month ${pad2(local.month)}; months are 01 to 12`;
  const daysInMonth = daysInMonthOf(local.year, local.month);
  if (local.day < 1 || local.day > daysInMonth) {
    return `is not a real date: ${MONTH_NAMES[local.month - 1]} ${local.year} has ${daysInMonth} days`;
  }
  if (local.hour > 23) return `has hour ${pad2(local.hour)}; hours are 00 to 23`;
  if (local.minute > 59) return `has minute ${pad2(local.minute)}; minutes are 00 to 59`;
  // Leap seconds are not representable in recovery_target_time comparisons either.
  if (local.second > 59) return `has second ${pad2(local.second)}; seconds are 00 to 59`;
  if (local.fraction.length > MICROSECOND_DIGITS) {
    return `has ${local.fraction.length} fraction digits; PostgreSQL keeps microseconds, so write at most ${MICROSECOND_DIGITS}`;
  }
  return null;
}

type OffsetResult = { ok: true; seconds: number } | { ok: false; message: string };

function resolveOffsetSeconds(written: string, local: LocalDateTime, zonePart: string): OffsetResult {
  // PostgreSQL accepts a space before the offset too; it is unambiguous, so we do as well.
  const offsetText = zonePart.trimStart();
  if (offsetText === 'Z') return { ok: true, seconds: 0 };
  const offsetMatch = OFFSET_SHAPE.exec(offsetText)?.groups;
  if (offsetMatch) return parseNumericOffset(written, offsetMatch);
  const zoneMatch = ZONE_NAME_SHAPE.exec(zonePart)?.groups;
  if (zoneMatch?.zone) return offsetInZoneAt(written, local, zoneMatch.zone);
  return fail(
    `target time "${written}" ends in "${zonePart}", which is neither an offset nor a zone; write ${ACCEPTED_TIME_FORMS}`,
  );
}

function parseNumericOffset(written: string, groups: Record<string, string | undefined>): OffsetResult {
  const hours = Number(groups.hours);
  const minutes = Number(groups.minutes ?? '0');
  if (minutes > 59) return fail(`target time "${written}" has an offset with minute ${pad2(minutes)}; minutes are 00 to 59`);
  const magnitude = hours * 3600 + minutes * 60;
  if (magnitude > MAX_OFFSET_SECONDS) {
    return fail(`target time "${written}" has offset ${groups.sign}${pad2(hours)}:${pad2(minutes)}; UTC offsets range from -14:00 to +14:00`);
  }
  return { ok: true, seconds: groups.sign === '-' ? -magnitude : magnitude };
}

/**
 * The offset in effect in `zone` at the wall-clock time `local`. A wall-clock time
 * skipped by a DST change (spring forward) or lived twice (fall back) is an error:
 * guessing would move the recovery point by an hour.
 */
function offsetInZoneAt(written: string, local: LocalDateTime, zone: string): OffsetResult {
  const formatter = zoneFormatter(zone);
  if (!formatter) {
    return fail(
      `target time "${written}" names an unknown time zone "${zone}"; use an IANA zone name such as Europe/Berlin or an offset such as +01:00`,
    );
  }
  const localSeconds = secondsSinceEpochAsIfUtc(local);
  const matching = candidateOffsets(formatter, localSeconds).filter(
    (offset) => offsetAtInstant(formatter, localSeconds - offset) === offset,
  );
  if (matching.length === 1 && matching[0] !== undefined) return { ok: true, seconds: matching[0] };

  const wallClock = formatWallClock(local);
  if (matching.length === 0) {
    const before = offsetAtInstant(formatter, localSeconds - 2 * DAY_SECONDS);
    const after = offsetAtInstant(formatter, localSeconds + 2 * DAY_SECONDS);
    return fail(
      `target time "${written}" does not exist: clocks in ${zone} jump from ${formatOffset(before)} to ${formatOffset(after)} around ${wallClock}; ` +
        `write the instant you mean with an explicit offset, e.g. "${withOffset(local, before)}"`,
    );
  }
  const choices = [...matching].sort((a, b) => b - a).map(formatOffset);
  return fail(
    `target time "${written}" is ambiguous: ${wallClock} happens twice in ${zone} (at ${choices.join(' and at ')}); ` +
      `write it with the offset you mean, e.g. "${withOffset(local, matching[0] ?? 0)}"`,
  );
}

const DAY_SECONDS = 86_400;

/** Offsets in effect shortly before, at and after the instant; DST changes are months apart. */
function candidateOffsets(formatter: Intl.DateTimeFormat, localSeconds: number): number[] {
  const probes = [localSeconds - 2 * DAY_SECONDS, localSeconds, localSeconds + 2 * DAY_SECONDS];
  return [...new Set(probes.map((instant) => offsetAtInstant(formatter, instant)))];
}

/** A formatter for an IANA zone, or null when the zone is unknown. */
export function zoneFormatter(zone: string): Intl.DateTimeFormat | null {
  try {
    return new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
  } catch {
    return null;
  }
}

/** UTC offset (seconds east of Greenwich) in effect at a UTC instant. */
function offsetAtInstant(formatter: Intl.DateTimeFormat, utcSeconds: number): number {
  const parts = formatter.formatToParts(new Date(utcSeconds * 1000));
  const part = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((p) => p.type === type)?.value ?? Number.NaN);
  const isBeforeCommonEra = parts.find((p) => p.type === 'era')?.value === 'BC';
  const wallClock: LocalDateTime = {
    year: isBeforeCommonEra ? 1 - part('year') : part('year'),
    month: part('month'),
    day: part('day'),
    hour: part('hour'),
    minute: part('minute'),
    second: part('second'),
    fraction: '',
  };
  return secondsSinceEpochAsIfUtc(wallClock) - utcSeconds;
}

/** Seconds since 1970-01-01T00:00:00 if the wall-clock time were UTC (fraction ignored). */
function secondsSinceEpochAsIfUtc(local: LocalDateTime): number {
  return (
    daysFromCivil(local.year, local.month, local.day) * DAY_SECONDS +
    local.hour * 3600 +
    local.minute * 60 +
    local.second
  );
}

function formatUtc(utcSeconds: number, fraction: string): string {
  const days = Math.floor(utcSeconds / DAY_SECONDS);
  const secondOfDay = utcSeconds - days * DAY_SECONDS;
  const { year, month, day } = civilFromDays(days);
  const time = `${pad2(Math.floor(secondOfDay / 3600))}:${pad2(Math.floor((secondOfDay % 3600) / 60))}:${pad2(secondOfDay % 60)}`;
  return `${pad4(year)}-${pad2(month)}-${pad2(day)}T${time}${formatFraction(fraction)}+00:00`;
}

/** Microseconds are always printed with six digits so equal instants compare equal as text. */
function formatFraction(fraction: string): string {
  return fraction === '' ? '' : `.${fraction.padEnd(MICROSECOND_DIGITS, '0')}`;
}

function formatWallClock(local: LocalDateTime): string {
  return `${pad4(local.year)}-${pad2(local.month)}-${pad2(local.day)} ${pad2(local.hour)}:${pad2(local.minute)}:${pad2(local.second)}`;
}

function withOffset(local: LocalDateTime, offsetSeconds: number): string {
  const wallClock = formatWallClock(local).replace(' ', 'T');
  return `${wallClock}${local.fraction ? `.${local.fraction}` : ''}${formatOffset(offsetSeconds)}`;
}

function formatOffset(offsetSeconds: number): string {
  const sign = offsetSeconds < 0 ? '-' : '+';
  const magnitude = Math.abs(offsetSeconds);
  const base = `${sign}${pad2(Math.floor(magnitude / 3600))}:${pad2(Math.floor((magnitude % 3600) / 60))}`;
  // Historical local mean times have offsets with seconds; show them rather than round.
  return magnitude % 60 === 0 ? base : `${base}:${pad2(magnitude % 60)}`;
}

const MONTH_NAMES = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonthOf(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** Inverse of daysFromCivil. */
function civilFromDays(daysSinceEpoch: number): { year: number; month: number; day: number } {
  const z = daysSinceEpoch + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function pad4(n: number): string {
  return String(n).padStart(4, '0');
}
