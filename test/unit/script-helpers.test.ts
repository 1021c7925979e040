/**
 * The small helpers of the generated lib/common.sh that progress lines and the run
 * summary use (format_duration, format_bytes, progress_due), executed by bash from a
 * freshly compiled example plan.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs } from './compiler-helpers.js';
import { writeCompiledExample } from './script-bundle.js';

let bundle = '';

beforeAll(() => {
  bundle = writeCompiledExample();
});

afterAll(() => {
  removeTempDirs();
});

/** Runs SCRIPT in bash after sourcing lib/common.sh under set -Eeuo pipefail, as the scripts do. */
function bash(script: string, env: NodeJS.ProcessEnv = {}): string {
  return execFileSync('bash', ['-c', `set -Eeuo pipefail\nsource lib/common.sh\n${script}`], {
    cwd: bundle,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  });
}

/** Applies FUNCTION (format_duration or format_bytes) to each input; one result a line. */
function formatEach(fn: string, inputs: string[]): string[] {
  const script = `for x in "$@"; do ${fn} out "$x"; printf '%s\\n' "$out"; done`;
  return execFileSync('bash', ['-c', `set -Eeuo pipefail\nsource lib/common.sh\n${script}`, 'bash', ...inputs], {
    cwd: bundle,
    encoding: 'utf8',
  })
    .split('\n')
    .slice(0, -1);
}

describe('format_duration', () => {
  it('writes seconds, minutes with seconds, hours with minutes', () => {
    const inputs = ['0', '7', '59', '60', '65', '3599', '3600', '3720', '90061'];
    expect(formatEach('format_duration', inputs)).toEqual(['0s', '7s', '59s', '1m00s', '1m05s', '59m59s', '1h00m', '1h02m', '25h01m']);
  });

  it('drops a fraction and reads anything else as 0', () => {
    expect(formatEach('format_duration', ['12.7', '3,5', '', 'x', '-3', '$(date)'])).toEqual(['12s', '3s', '0s', '0s', '0s', '0s']);
  });

  it('sets the named variable even when it shares a name with the caller\'s own locals', () => {
    expect(bash('f() { local d=""; format_duration d 65; printf "%s" "$d"; }; f')).toBe('1m05s');
  });
});

describe('format_bytes', () => {
  it('writes bytes below 1 KiB, then one rounded decimal in binary units', () => {
    const inputs = ['0', '512', '1023', '1024', '1536', '3565158', '1288490189', '1048575', '1073741823', '1099511627776', '9223372036854775807'];
    expect(formatEach('format_bytes', inputs)).toEqual([
      '0 B',
      '512 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '3.4 MiB',
      '1.2 GiB',
      '1.0 MiB',
      '1.0 GiB',
      '1.0 TiB',
      '8.0 EiB',
    ]);
  });

  it('reads anything that is not a number as 0', () => {
    expect(formatEach('format_bytes', ['', 'x', '-5', '1e9'])).toEqual(['0 B', '0 B', '0 B', '0 B']);
  });

  it('runs no external program: a thousand calls with an empty PATH still work', () => {
    expect(bash('PATH=; for ((i = 0; i < 1000; i++)); do format_bytes b "$((i * 4096))"; format_duration d "$i"; done; printf "%s %s" "$b" "$d"')).toBe(
      '3.9 MiB 16m39s',
    );
  });
});

// A fake clock: now_micros (the one place that reads the time) replaced after sourcing by
// one that returns NOW, which the script sets. No sleeps, so a loaded machine cannot
// turn "not due yet" into "due" (a real 1 s interval against `sleep 1.1` could).
const FAKE_CLOCK = `NOW=0; now_micros() { printf -v "$1" '%s' "\${NOW}"; }`;

describe('progress_due', () => {
  it('is due on the first call for a key, then only once the interval has passed (fake clock)', () => {
    const out = bash(`
      ${FAKE_CLOCK}
      r() { if progress_due "$@"; then printf 'y'; else printf 'n'; fi; }
      NOW=1000000000; r staging 1; r staging 1; r replay 1; r replay 1; r '' 1
      NOW=1000999999; r staging 1
      NOW=1001000000; r staging 1; r staging 1; r replay 5
      NOW=1004999999; r replay 5
      NOW=1005000000; r replay 5; r replay 5
    `);
    expect(out).toBe('ynynynynnnyn');
  });

  it('now_micros reads EPOCHREALTIME in microseconds (between two readings around it)', () => {
    const [before, now, after] = bash(`
      a=\${EPOCHREALTIME//[!0-9]/}; now_micros n; b=\${EPOCHREALTIME//[!0-9]/}
      printf '%s %s %s' "$a" "$n" "$b"
    `).split(' ').map(BigInt);
    expect(now! >= before! && now! <= after!, `${before} <= ${now} <= ${after}`).toBe(true);
  });

  it('now_micros falls back to whole seconds when EPOCHREALTIME is not available', () => {
    // SECONDS keeps counting from what it is set to: a lower bound only, and whole seconds.
    const [set, now] = bash(`
      unset EPOCHREALTIME
      SECONDS=500; now_micros n
      printf '%s %s' 500000000 "$n"
    `).split(' ').map(Number);
    expect(now! % 1_000_000).toBe(0);
    expect(now!).toBeGreaterThanOrEqual(set!);
  });
});
