/**
 * The committed out/<name>/ of each example plan as an operator receives it (DESIGN.md,
 * "Output"): every promised file is there, the scripts answer --help without side
 * effects, a changed byte makes them refuse to run (exit 4) before anything else, and
 * plan.json is the normalized plan the scripts were compiled from.
 */
import { planJsonText, sha256 } from '../../src/plan/plan-json.js';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { DESIGN_FILES, EXAMPLE_PLANS, loadExamplePlan, makeTempDir, OUT_DIR, readTree, removeTempDirs, run } from './compiler-helpers.js';

afterAll(() => {
  removeTempDirs();
});

/** The environment of an operator's shell, without a state dir override. */
function operatorEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('PITR_')) delete env[k];
  return env;
}

function tamperedCopy(name: string, file: string, at = 100): string {
  const dir = join(makeTempDir('pitr-tamper-'), name);
  cpSync(join(OUT_DIR, name), dir, { recursive: true });
  const path = join(dir, file);
  const bytes = readFileSync(path);
  bytes[at] = bytes[at] === 0x41 ? 0x42 : 0x41;
  writeFileSync(path, bytes);
  return dir;
}

describe.each(EXAMPLE_PLANS)('out/%s', (name) => {
  const dir = join(OUT_DIR, name);

  it('holds every file DESIGN.md lists', () => {
    const files = [...readTree(dir).keys()];
    for (const file of DESIGN_FILES) expect(files).toContain(file);
    expect(files.filter((f) => f.startsWith('phases/'))).toEqual([
      'phases/00-preflight.sh',
      'phases/01-assess.sh',
      'phases/02-stop-services.sh',
      'phases/03-safety-backup.sh',
      'phases/04-fetch.sh',
      'phases/05-configure.sh',
      'phases/06-recover.sh',
      'phases/07-verify.sh',
      'phases/08-finalize.sh',
    ]);
    expect(files).not.toContain('state');
  });

  it('run.sh --help exits 0, prints Usage, and creates nothing', () => {
    const result = run('/usr/bin/bash', [join(dir, 'run.sh'), '--help'], { env: operatorEnv() });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: \.\/run\.sh /);
    const plan = loadExamplePlan(name);
    expect(result.stdout).toContain(`Recovers ${plan.postgres.database} to ${plan.target.kind} ${plan.target.value} (plan ${name}).`);
    expect(result.stdout).toContain('Phases: 00-preflight 01-assess 02-stop-services 03-safety-backup 04-fetch 05-configure 06-recover 07-verify 08-finalize');
    expect(existsSync(join(dir, 'state'))).toBe(false);
  });

  it('drill.sh --help and rollback.sh --help exit 0 and print Usage', () => {
    for (const script of ['drill.sh', 'rollback.sh']) {
      const result = run('/usr/bin/bash', [join(dir, script), '--help'], { env: operatorEnv() });
      expect({ script, status: result.status, stderr: result.stderr }).toEqual({ script, status: 0, stderr: '' });
      expect(result.stdout).toMatch(new RegExp(`^Usage: \\./${script.replace('.', '\\.')} `));
    }
    expect(existsSync(join(dir, 'state'))).toBe(false);
  });

  it('an unknown option exits 2 with the usage on stderr', () => {
    const result = run('/usr/bin/bash', [join(dir, 'run.sh'), '--frobnicate'], { env: operatorEnv() });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('unknown option: --frobnicate');
    expect(result.stderr).toContain('Usage: ./run.sh');
  });

  it('the untouched bundle passes its own SHA256SUMS check', () => {
    const copy = join(makeTempDir('pitr-intact-'), name);
    cpSync(dir, copy, { recursive: true });
    const result = run('/usr/bin/bash', ['-c', 'source "$1"; verify_bundle && echo verified', 'verify', join(copy, 'lib/common.sh')], { env: operatorEnv() });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('verified\n');
  });

  it('a byte changed in phases/04-fetch.sh: run.sh --dry-run exits 4 about SHA256SUMS before anything else', () => {
    const copy = tamperedCopy(name, 'phases/04-fetch.sh');
    const before = readdirSync(copy).sort();
    const result = run('/usr/bin/bash', [join(copy, 'run.sh'), '--dry-run'], { env: operatorEnv() });
    expect(result.status).toBe(4);
    const lines = result.stderr.split('\n').filter(Boolean);
    // The first thing said is the refusal; no phase, state or lock came before it.
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ FAIL \[run\] SHA256SUMS does not match the files in /);
    expect(result.stderr).toContain('phases/04-fetch.sh: FAILED');
    expect(result.stderr).not.toContain('=== phase');
    expect(result.stdout).toBe('');
    expect(readdirSync(copy).sort()).toEqual(before); // no state/ directory, no lock
  });

  it('drill.sh and rollback.sh refuse a tampered bundle too (exit 4), creating nothing', () => {
    const copy = tamperedCopy(name, 'phases/04-fetch.sh');
    const before = readdirSync(copy).sort();
    for (const script of ['drill.sh', 'rollback.sh']) {
      const result = run('/usr/bin/bash', [join(copy, script)], { env: operatorEnv() });
      expect({ script, status: result.status }).toEqual({ script, status: 4 });
      expect(result.stderr).toContain('SHA256SUMS does not match');
    }
    expect(readdirSync(copy).sort()).toEqual(before);
  });

  it('a byte changed in lib/common.sh (a comment) is caught as well', () => {
    const common = readFileSync(join(dir, 'lib/common.sh'), 'utf8');
    const at = Buffer.byteLength(common.slice(0, common.indexOf('# Shared library') + 4));
    const copy = tamperedCopy(name, 'lib/common.sh', at);
    const result = run('/usr/bin/bash', [join(copy, 'run.sh'), '--dry-run'], { env: operatorEnv() });
    expect(result.status).toBe(4);
    expect(result.stderr).toContain('lib/common.sh: FAILED');
  });

  it('plan.json is the normalized plan, and PLAN_SHA256 and every header name its hash', () => {
    const plan = loadExamplePlan(name);
    const text = readFileSync(join(dir, 'plan.json'), 'utf8');
    expect(JSON.parse(text)).toEqual(plan);
    expect(text).toBe(planJsonText(plan));
    const hash = sha256(text);
    expect(readFileSync(join(dir, 'lib/constants.sh'), 'utf8')).toContain(`readonly PLAN_SHA256='${hash}'`);
    for (const [path, bytes] of readTree(dir)) {
      if (path.endsWith('.sh')) expect({ path, header: bytes.toString('utf8').includes(`from plan.json sha256 ${hash}.`) }).toEqual({ path, header: true });
    }
  });

  it('every script starts with a bash shebang and sets strict mode', () => {
    for (const [path, bytes] of readTree(dir)) {
      if (!path.endsWith('.sh')) continue;
      const text = bytes.toString('utf8');
      expect({ path, shebang: text.startsWith('#!/usr/bin/env bash\n') }).toEqual({ path, shebang: true });
      // Libraries are sourced: they inherit the caller's options (each says so).
      // Every library but the two programs the PostgreSQL OS user runs.
      const programs = ['lib/restore-wal.sh', 'lib/stage-wal.sh'];
      if (path.startsWith('lib/') && !programs.includes(path)) {
        expect({ path, saysSourced: /Sourced[^\n]*never run/.test(text.split('\n').slice(0, 30).join('\n')) }).toEqual({ path, saysSourced: true });
      } else {
        expect({ path, strict: /^set -(Eeuo pipefail|uo pipefail)$/m.test(text) }).toEqual({ path, strict: true });
      }
    }
  });
});
