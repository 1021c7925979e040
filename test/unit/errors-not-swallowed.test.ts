/**
 * No error is swallowed in a command substitution. `fail` inside $( ) ends only that
 * subshell: as an argument ("$(pg_bin psql)"), in a here-string (read <<<"$(state_get x)"),
 * or in a function called from `if` (where set -e does not act) the script went on with
 * an empty value — "psql not found" read as "production is down". The helpers that can
 * fail set a named variable instead (state_load, pg_program, aws_program, run_id_load),
 * so their `fail` ends the script. Executed by bash from a freshly compiled example plan,
 * plus a scan of every generated script for the old idioms.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDirs } from './compiler-helpers.js';
import { writeCompiledExample } from './script-bundle.js';

let bundle = '';
let bin = '';

beforeAll(() => {
  bundle = writeCompiledExample();
  // A PATH with only what sourcing common.sh and logging need: no psql, no pg_ctl.
  bin = join(makeTempDir('pitr-bin-'), 'bin');
  mkdirSync(bin);
  for (const tool of ['dirname', 'date', 'cat', 'env', 'id', 'mkdir', 'chmod', 'mv', 'touch']) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
});

afterAll(() => {
  removeTempDirs();
});

/** SCRIPT after `source lib/common.sh` under set -Eeuo pipefail, as the phases run. */
function bash(script: string, env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync('/bin/bash', ['-c', `set -Eeuo pipefail\nsource lib/common.sh\n${script}`], {
    cwd: bundle,
    encoding: 'utf8',
    env: { PATH: bin, PITR_STATE_DIR: makeTempDir('pitr-state-'), ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('a failing helper ends the script, wherever it is called', () => {
  it('a missing psql inside a function called from if: the script stops naming the program, it does not answer "down"', () => {
    const result = bash('if prod_is_up; then echo up; else echo down; fi; echo reached');
    expect(result.stdout).toBe('');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/FAIL .*PostgreSQL program psql not found/);
  });

  it('a missing pg_ctl while checking whether production runs: stops, does not read as "not running"', () => {
    const result = bash('if prod_postmaster_running; then echo running; else echo stopped; fi');
    expect(result.stdout).toBe('');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('PostgreSQL program pg_ctl not found');
  });

  it('a missing state value read into a variable, then split by read: stops before the read', () => {
    const result = bash(`mkdir -p "$PITR_STATE_DIR/values"
f() { local row label start; state_load row backup; IFS=$'\\t' read -r label start <<<"\${row}"; echo "reached \${label}"; }
if f; then echo ok; fi`);
    expect(result.stdout).toBe('');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('state value backup is missing');
  });

  it('state_load reads a value as $( ) would (trailing newlines dropped, inner ones and tabs kept)', () => {
    const result = bash(`mkdir -p "$PITR_STATE_DIR/values"
state_set backup "$(printf 'b1\\t0/2000028\\nsecond line\\n\\n')"
state_load v backup; printf '[%s]' "$v"`);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe('[b1\t0/2000028\nsecond line]');
  });

  it('the old idiom loses the failure (what the helpers above replace)', () => {
    // Kept to show the class of bug: a here-string of $(state_get ...) goes on with "".
    const result = bash(`mkdir -p "$PITR_STATE_DIR/values"
IFS=$'\\t' read -r label start <<<"$(state_get backup 2>/dev/null)" || true; echo "reached [\${label}]"`);
    expect(result.stdout).toBe('reached []\n');
  });
});

describe('the generated scripts use no failing helper inside $( ) except as a checked assignment', () => {
  // var="$(helper ...)" || exit|fail|return is a checked assignment; anything else (an
  // argument, a here-string, a string) loses the helper's failure.
  const helpers = /\$\((state_get|pg_bin|aws_bin|run_id|find_safety_dump)\b/;
  const checked = /^\s*(local\s+)?[A-Za-z_][A-Za-z0-9_]*="\$\([a-z_]+[^)]*\)"\s*\|\|\s*(exit|fail|return)\b/;

  it('holds for every script of both example plans', () => {
    const findings: string[] = [];
    for (const name of ['realestateos-docker', 'realestateos-k8s']) {
      const dir = writeCompiledExample(name);
      const scripts = [
        ...readdirSync(dir).filter((f) => f.endsWith('.sh')),
        ...readdirSync(join(dir, 'phases')).map((f) => `phases/${f}`),
        ...readdirSync(join(dir, 'lib')).filter((f) => f.endsWith('.sh')).map((f) => `lib/${f}`),
      ];
      for (const script of scripts) {
        readFileSync(join(dir, script), 'utf8').split('\n').forEach((line, i) => {
          if (/^\s*#/.test(line)) return;
          if (helpers.test(line) && !checked.test(line)) findings.push(`${name}/${script}:${i + 1}: ${line.trim()}`);
          if (/<<<\s*"\$\(/.test(line)) findings.push(`${name}/${script}:${i + 1}: here-string of a command substitution: ${line.trim()}`);
        });
      }
    }
    expect(findings).toEqual([]);
  });
});
