import { describe, expect, it } from 'vitest';
import { parseTargetTime } from '../../src/plan/time.js';

function canonical(written: string): string {
  const result = parseTargetTime(written);
  if (!result.ok) throw new Error(`expected ${written} to parse, got: ${result.message}`);
  return result.canonical;
}

function failure(written: string): string {
  const result = parseTargetTime(written);
  if (result.ok) throw new Error(`expected ${written} to be rejected, got ${result.canonical}`);
  return result.message;
}

describe('parseTargetTime: accepted forms', () => {
  it.each([
    ['2024-01-15T14:30:00Z', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15T14:30:00+00:00', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15 14:30:00+00:00', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15T14:30Z', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15T15:30:00+0100', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15T15:30:00+01', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15T09:00:00-05:30', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15 14:30:00 +00:00', '2024-01-15T14:30:00+00:00'],
    ['2024-01-15 14:30:00 UTC', '2024-01-15T14:30:00+00:00'],
  ])('%s → %s', (written, expected) => {
    expect(canonical(written)).toBe(expected);
  });

  it('converts +09:00 to the UTC instant nine hours earlier, across midnight', () => {
    expect(canonical('2024-01-15T08:30:00+09:00')).toBe('2024-01-14T23:30:00+00:00');
  });

  it('resolves an IANA zone with the offset in effect on that date', () => {
    expect(canonical('2024-01-15 15:30:00 Europe/Berlin')).toBe('2024-01-15T14:30:00+00:00'); // CET, +01:00
    expect(canonical('2024-07-15 16:30:00 Europe/Berlin')).toBe('2024-07-15T14:30:00+00:00'); // CEST, +02:00
    expect(canonical('2024-01-15T23:30:00 Asia/Tokyo')).toBe('2024-01-15T14:30:00+00:00');
    expect(canonical('2024-07-15 10:30:00 America/New_York')).toBe('2024-07-15T14:30:00+00:00');
  });

  it('gives the same instant for an offset and the matching zone', () => {
    expect(canonical('2024-01-15 15:30:00 Europe/Berlin')).toBe(canonical('2024-01-15T15:30:00+01:00'));
    expect(canonical('2024-01-15 23:30:00 Asia/Tokyo')).toBe(canonical('2024-01-15T23:30:00+09:00'));
  });

  it('keeps six fraction digits when a fraction is written, none otherwise', () => {
    expect(canonical('2024-01-15T14:30:00.5Z')).toBe('2024-01-15T14:30:00.500000+00:00');
    expect(canonical('2024-01-15T14:30:00.123456+02:00')).toBe('2024-01-15T12:30:00.123456+00:00');
    expect(canonical('2024-01-15T14:30:00.000000Z')).toBe('2024-01-15T14:30:00.000000+00:00');
  });

  it('handles leap days and year boundaries', () => {
    expect(canonical('2024-02-29T00:30:00+01:00')).toBe('2024-02-28T23:30:00+00:00');
    expect(canonical('2024-12-31T23:30:00-01:00')).toBe('2025-01-01T00:30:00+00:00');
    expect(canonical('2000-02-29T12:00:00Z')).toBe('2000-02-29T12:00:00+00:00');
  });
});

describe('parseTargetTime: rejected forms', () => {
  it('rejects a time without offset and suggests the UTC form', () => {
    const message = failure('2024-01-15 14:30:00');
    expect(message).toContain('has no UTC offset or zone');
    expect(message).toContain('"2024-01-15T14:30:00+00:00"');
  });

  it('rejects dates that do not exist', () => {
    expect(failure('2024-02-30T14:30:00Z')).toContain('February 2024 has 29 days');
    expect(failure('2023-02-29T14:30:00Z')).toContain('February 2023 has 28 days');
    expect(failure('2024-13-01T14:30:00Z')).toContain('months are 01 to 12');
    expect(failure('2024-01-15T24:00:00Z')).toContain('hours are 00 to 23');
    expect(failure('2024-01-15T14:60:00Z')).toContain('minutes are 00 to 59');
  });

  it('rejects unknown zones and odd offsets', () => {
    expect(failure('2024-01-15 14:30:00 Europe/Berlinn')).toContain('unknown time zone "Europe/Berlinn"');
    expect(failure('2024-01-15T14:30:00+15:00')).toContain('UTC offsets range from -14:00 to +14:00');
    expect(failure('2024-01-15T14:30:00+01:75')).toContain('minutes are 00 to 59');
    expect(failure('2024-01-15T14:30:00+1')).toContain('neither an offset nor a zone');
  });

  it('rejects more than microsecond precision', () => {
    expect(failure('2024-01-15T14:30:00.1234567Z')).toContain('at most 6');
  });

  it('rejects what is not a timestamp at all', () => {
    expect(failure('yesterday')).toContain('is not a timestamp');
    expect(failure('15/01/2024 14:30')).toContain('is not a timestamp');
  });

  it('rejects a local time skipped by a DST change', () => {
    const message = failure('2024-03-31 02:30:00 Europe/Berlin');
    expect(message).toContain('does not exist');
    expect(message).toContain('from +01:00 to +02:00');
  });

  it('rejects a local time that happens twice at a DST change', () => {
    const message = failure('2024-10-27 02:30:00 Europe/Berlin');
    expect(message).toContain('is ambiguous');
    expect(message).toContain('+02:00 and at +01:00');
    expect(message).toContain('"2024-10-27T02:30:00+02:00"');
  });

  it('accepts the unambiguous hours around a DST change', () => {
    expect(canonical('2024-03-31 01:59:59 Europe/Berlin')).toBe('2024-03-31T00:59:59+00:00');
    expect(canonical('2024-03-31 03:00:00 Europe/Berlin')).toBe('2024-03-31T01:00:00+00:00');
    expect(canonical('2024-10-27 03:00:00 Europe/Berlin')).toBe('2024-10-27T02:00:00+00:00');
  });
});
