import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalTimeToMicros, formatUtcMicros, parseStopTime, parseStopTimeInZone, type StopTime } from '../../src/archive/stop-time.js';
import { AMBIGUOUS_ABBREVIATIONS, POSTGRES_DEFAULT_ABBREVIATIONS } from '../../src/archive/timezone-abbreviations.js';

function read(written: string): StopTime {
  const result = parseStopTime(written);
  if (!result.ok) throw new Error(`expected ${written} to parse: ${result.message}`);
  return result.stopTime;
}

describe('STOP TIME with an unambiguous zone', () => {
  it.each([
    ['2026-11-24 15:21:44 JST', '2026-11-24T06:21:44+00:00'],
    ['2026-11-24 15:21:44 KST', '2026-11-24T06:21:44+00:00'],
    ['2024-01-15 14:30:00 UTC', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15 14:30:00 GMT', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15 14:30:00 Z', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15 14:30:00 +03', '2024-01-15T11:30:00+00:00'],
    ['2024-01-15 14:30:00 -03', '2024-01-15T17:30:00+00:00'],
    ['2024-01-15 14:30:00 -0530', '2024-01-15T20:00:00+00:00'],
    ['2024-01-15 14:30:00 +0545', '2024-01-15T08:45:00+00:00'],
    ['2024-01-15 14:30:00 CET', '2024-01-15T13:30:00+00:00'],
    ['2024-07-15 14:30:00 CEST', '2024-07-15T12:30:00+00:00'],
    ['2024-01-15 14:30:00 EET', '2024-01-15T12:30:00+00:00'],
    ['2024-07-15 14:30:00 EEST', '2024-07-15T11:30:00+00:00'],
    ['2024-01-15 14:30:00 WET', '2024-01-15T14:30:00+00:00'],
    ['2024-07-15 14:30:00 WEST', '2024-07-15T13:30:00+00:00'],
    ['2024-07-15 14:30:00 BST', '2024-07-15T13:30:00+00:00'],
    ['2024-01-15 14:30:00 EST', '2024-01-15T19:30:00+00:00'],
    ['2024-07-15 14:30:00 EDT', '2024-07-15T18:30:00+00:00'],
    ['2024-01-15 14:30:00 MST', '2024-01-15T21:30:00+00:00'],
    ['2024-07-15 14:30:00 MDT', '2024-07-15T20:30:00+00:00'],
    ['2024-07-15 14:30:00 PDT', '2024-07-15T21:30:00+00:00'],
    ['2024-01-15 14:30:00 AKST', '2024-01-15T23:30:00+00:00'],
    ['2024-07-15 14:30:00 AKDT', '2024-07-15T22:30:00+00:00'],
    ['2024-01-15 14:30:00 HST', '2024-01-16T00:30:00+00:00'],
    ['2024-07-15 14:30:00 AEST', '2024-07-15T04:30:00+00:00'],
    ['2024-01-15 14:30:00 AEDT', '2024-01-15T03:30:00+00:00'],
    ['2024-07-15 14:30:00 ACST', '2024-07-15T05:00:00+00:00'],
    ['2024-01-15 14:30:00 ACDT', '2024-01-15T04:00:00+00:00'],
    ['2024-01-15 14:30:00 AWST', '2024-01-15T06:30:00+00:00'],
    ['2024-07-15 14:30:00 NZST', '2024-07-15T02:30:00+00:00'],
    ['2024-01-15 14:30:00 NZDT', '2024-01-15T01:30:00+00:00'],
    ['2024-01-15 14:30:00 WIB', '2024-01-15T07:30:00+00:00'],
    ['2024-01-15 14:30:00 jst', '2024-01-15T05:30:00+00:00'],
  ])('%s is %s', (written, utc) => {
    const stop = read(written);
    expect(stop.utc).toBe(utc);
    expect(stop.earliest).toBe(stop.latest);
    expect(stop.uncertainty).toBeNull();
    expect(stop.written).toBe(written);
  });

  it('zone-dependent abbreviations take the zone offset of that date (MSK was +04 in 2012, +03 since 2014)', () => {
    expect(read('2012-06-01 12:00:00 MSK').utc).toBe('2012-06-01T08:00:00+00:00');
    expect(read('2020-06-01 12:00:00 MSK').utc).toBe('2020-06-01T09:00:00+00:00');
    expect(read('2010-01-15 12:00:00 SGT').utc).toBe('2010-01-15T04:00:00+00:00');
  });
});

describe('STOP TIME with an ambiguous or unknown zone', () => {
  it('IST: India, Israel (PostgreSQL\'s reading) and Ireland → the interval of all three', () => {
    const stop = read('2024-01-15 14:30:00 IST');
    expect(stop.utc).toBeNull();
    expect(stop.earliest).toBe(Date.parse('2024-01-15T09:00:00Z') / 1000); // +05:30
    expect(stop.latest).toBe(Date.parse('2024-01-15T13:30:00Z') / 1000); // +01:00
    expect(stop.uncertainty).toContain('ambiguous');
    expect(stop.uncertainty).toContain('India Standard Time');
    expect(stop.uncertainty).toContain('Israel');
  });

  it('CST spans US Central, Cuba and China', () => {
    const stop = read('2024-01-15 14:30:00 CST');
    expect(stop.latest - stop.earliest).toBe(14 * 3600);
    expect(Object.keys(AMBIGUOUS_ABBREVIATIONS).sort()).toEqual(['CDT', 'CST', 'IST', 'PST']);
  });

  it('an unknown abbreviation spans every UTC offset (-12:00 .. +14:00)', () => {
    const stop = read('2024-01-15 14:30:00 XYZT');
    expect(stop.utc).toBeNull();
    expect(stop.earliest).toBe(Date.parse('2024-01-15T00:30:00Z') / 1000);
    expect(stop.latest).toBe(Date.parse('2024-01-16T02:30:00Z') / 1000);
    expect(stop.uncertainty).toContain('XYZT');
  });

  it.each(['2024-01-15 14:30 JST', '2024-01-15T14:30:00 JST', '2024-13-15 14:30:00 JST', '2024-01-15 14:30:00', '2024-01-15 14:30:00 +25', 'yesterday'])(
    'rejects %j',
    (written) => {
      const result = parseStopTime(written);
      expect(result.ok).toBe(false);
    },
  );
});

describe('canonical target times in microseconds', () => {
  it('round-trips with and without a fraction', () => {
    expect(canonicalTimeToMicros('2024-01-15T14:30:00+00:00')).toBe(Date.parse('2024-01-15T14:30:00Z') * 1000);
    expect(canonicalTimeToMicros('2024-01-15T14:30:00.000123+00:00')).toBe(Date.parse('2024-01-15T14:30:00Z') * 1000 + 123);
    expect(formatUtcMicros(canonicalTimeToMicros('2024-01-15T14:30:00.123456+00:00'))).toBe('2024-01-15T14:30:00.123456+00:00');
    expect(formatUtcMicros(canonicalTimeToMicros('2024-01-15T14:30:00+00:00'))).toBe('2024-01-15T14:30:00+00:00');
    expect(() => canonicalTimeToMicros('2024-01-15T14:30:00Z')).toThrow();
  });
});

const DEFAULT_SET = '/usr/share/postgresql/15/timezonesets/Default';
describe.runIf(existsSync(DEFAULT_SET))("the table is PostgreSQL 15's Default timezone_abbreviations", () => {
  it('has every entry of the installed Default file with the same meaning', () => {
    const entries = readFileSync(DEFAULT_SET, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z]/.test(line))
      .map((line) => line.split(/\s+/))
      .map(([name, value]) => [name!, /^-?\d+$/.test(value!) ? Number(value) : value!] as const);
    expect(Object.fromEntries(entries)).toEqual(POSTGRES_DEFAULT_ABBREVIATIONS);
  });
});

describe('parseStopTimeInZone (postgres.logTimezone): the preflight\'s reading', () => {
  const utcOf = (written: string, zone: string) => {
    const r = parseStopTimeInZone(written, zone);
    return r.ok ? r.stopTime.utc : `refused: ${r.message}`;
  };

  it('reads an ambiguous abbreviation in the zone that wrote it', () => {
    expect(utcOf('2024-11-03 12:00:00 IST', 'Asia/Kolkata')).toBe('2024-11-03T06:30:00+00:00');
    expect(utcOf('2024-07-03 12:00:00 IST', 'Europe/Dublin')).toBe('2024-07-03T11:00:00+00:00');
    expect(utcOf('2024-11-03 12:00:00 -03', 'America/Sao_Paulo')).toBe('2024-11-03T15:00:00+00:00');
  });

  it('lets the abbreviation decide the hour a DST change repeats', () => {
    expect(utcOf('2024-11-03 01:30:00 EDT', 'America/New_York')).toBe('2024-11-03T05:30:00+00:00');
    expect(utcOf('2024-11-03 01:30:00 EST', 'America/New_York')).toBe('2024-11-03T06:30:00+00:00');
  });

  it('refuses a time the zone cannot have written', () => {
    expect(utcOf('2024-11-03 12:00:00 JST', 'Asia/Kolkata')).toMatch(/^refused: .*not a time Asia\/Kolkata shows/);
    // 02:30 does not exist in New York on 2024-03-10 (clocks jump from 02:00 to 03:00).
    expect(utcOf('2024-03-10 02:30:00 EST', 'America/New_York')).toMatch(/^refused/);
  });
});
