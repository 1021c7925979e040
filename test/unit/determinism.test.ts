/**
 * compile and render are pure (DESIGN.md, "Pipeline"): the same plan gives byte-identical
 * files whatever the run, the working directory, the time zone, the locale or the umask,
 * and the committed out/ is exactly what the compiler makes now (CI's freshness check).
 * SHA256SUMS covers every other file with its right hash; scripts are 0755, the rest 0644.
 *
 * The CLI runs use --no-shellcheck: shellcheck does not change a byte of the output
 * (templates-quote.test.ts runs it), and it would cost ~12 s per plan.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { loadTemplates } from '../../src/compile/render.js';
import { compilerVersion, TEMPLATES_DIR } from '../../src/paths.js';
import {
  EXAMPLE_PLANS,
  examplePlanPath,
  loadExamplePlan,
  makeTempDir,
  OUT_DIR,
  readTree,
  removeTempDirs,
  REPO_ROOT,
  run,
  runPitr,
} from './compiler-helpers.js';

const SECRETS = {
  SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/SENTINEL123',
  TEST_TOKEN: 'sentinel-token-456',
};

afterAll(() => {
  removeTempDirs();
});

function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function asText(tree: Map<string, Buffer>): Record<string, string> {
  return Object.fromEntries([...tree].map(([p, b]) => [p, b.toString('utf8')]));
}

describe('compilePlan in-process', () => {
  it.each(EXAMPLE_PLANS)('%s: two compiles give identical Maps (same keys, order and text)', (name) => {
    const first = compilePlan(loadExamplePlan(name), loadTemplates(TEMPLATES_DIR), compilerVersion());
    const second = compilePlan(loadExamplePlan(name), loadTemplates(TEMPLATES_DIR), compilerVersion());
    expect([...second.entries()]).toEqual([...first.entries()]);
    expect([...first.keys()]).toEqual([...first.keys()].sort());
  });

  it.each(EXAMPLE_PLANS)('%s: neither the time zone nor the clock nor the environment changes a byte', (name) => {
    const plan = loadExamplePlan(name);
    const templates = loadTemplates(TEMPLATES_DIR);
    const before = compilePlan(plan, templates, compilerVersion());
    const saved = { TZ: process.env.TZ, ...Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]])) };
    try {
      process.env.TZ = 'Asia/Tokyo';
      Object.assign(process.env, SECRETS);
      const after = compilePlan(loadExamplePlan(name), loadTemplates(TEMPLATES_DIR), compilerVersion());
      expect([...after.entries()]).toEqual([...before.entries()]);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it.each(EXAMPLE_PLANS)('%s: the in-process compile is the committed out/ byte for byte', (name) => {
    const files = compilePlan(loadExamplePlan(name), loadTemplates(TEMPLATES_DIR), compilerVersion());
    const committed = asText(readTree(join(OUT_DIR, name)));
    expect(committed).toEqual(Object.fromEntries(files));
  });
});

describe('the CLI, from two working directories under a different zone, locale and umask', () => {
  let fromRoot = '';
  let fromElsewhere = '';

  beforeAll(() => {
    fromRoot = makeTempDir('pitr-det-a-');
    fromElsewhere = makeTempDir('pitr-det-b-');
    const otherCwd = makeTempDir('pitr-det-cwd-');

    // 1. From the repository root, relative plan paths, the environment as it is.
    const a = runPitr(['compile', ...EXAMPLE_PLANS.map((n) => `plans/${n}.yaml`), '--out', fromRoot, '--no-shellcheck'], { cwd: REPO_ROOT });
    expect(a.stderr).toBe('');
    expect(a.status).toBe(0);

    // 2. From elsewhere, absolute paths, another zone and locale, umask 077, secrets set.
    //    sh only sets the umask; the arguments reach node through "$@" untouched.
    const env = {
      ...process.env,
      TZ: 'Asia/Tokyo',
      LC_ALL: 'tr_TR.UTF-8',
      LANG: 'de_DE.UTF-8',
      LANGUAGE: 'de',
      ...SECRETS,
    };
    const b = run('/bin/sh', ['-c', 'umask 077 && exec "$@"', 'sh', process.execPath, join(REPO_ROOT, 'bin/pitr.js'), 'compile',
      ...EXAMPLE_PLANS.map(examplePlanPath), '--out', fromElsewhere, '--no-shellcheck'], { cwd: otherCwd, env });
    expect(b.stderr).toBe('');
    expect(b.status).toBe(0);
    expect(b.stdout).toContain(`${examplePlanPath('realestateos-docker')} → ${fromElsewhere}/realestateos-docker/`);
  }, 60_000);

  it('writes one directory per plan and nothing else (no temp dirs left)', () => {
    for (const dir of [fromRoot, fromElsewhere]) {
      expect(run('/usr/bin/ls', ['-A', dir]).stdout.split('\n').filter(Boolean).sort()).toEqual([...EXAMPLE_PLANS].sort());
    }
  });

  it.each(EXAMPLE_PLANS)('%s: both runs are byte-identical and equal the committed out/', (name) => {
    const a = readTree(join(fromRoot, name));
    const b = readTree(join(fromElsewhere, name));
    const committed = readTree(join(OUT_DIR, name));
    expect([...a.keys()]).toEqual([...committed.keys()]);
    expect([...b.keys()]).toEqual([...committed.keys()]);
    for (const [path, bytes] of committed) {
      expect({ path, same: a.get(path)?.equals(bytes) }).toEqual({ path, same: true });
      expect({ path, same: b.get(path)?.equals(bytes) }).toEqual({ path, same: true });
    }
  });

  it.each(EXAMPLE_PLANS)('%s: no secret from the environment reaches a file', (name) => {
    for (const [path, bytes] of readTree(join(fromElsewhere, name))) {
      const text = bytes.toString('utf8');
      for (const secret of Object.values(SECRETS)) expect({ path, leaks: text.includes(secret) }).toEqual({ path, leaks: false });
    }
  });

  it.each(EXAMPLE_PLANS)('%s: SHA256SUMS lists every other file, sorted, with its sha256', (name) => {
    for (const dir of [join(fromRoot, name), join(fromElsewhere, name), join(OUT_DIR, name)]) {
      const tree = readTree(dir);
      const sums = (tree.get('SHA256SUMS') ?? Buffer.alloc(0)).toString('utf8');
      expect(sums.endsWith('\n')).toBe(true);
      const entries = sums.slice(0, -1).split('\n').map((line) => {
        const m = /^([0-9a-f]{64}) {2}(\S.*)$/.exec(line);
        expect(m, `malformed SHA256SUMS line: ${line}`).not.toBeNull();
        return { hash: m?.[1] ?? '', path: m?.[2] ?? '' };
      });
      const others = [...tree.keys()].filter((p) => p !== 'SHA256SUMS');
      expect(entries.map((e) => e.path)).toEqual(others);
      expect(others).toEqual([...others].sort());
      for (const e of entries) expect({ path: e.path, hash: e.hash }).toEqual({ path: e.path, hash: sha256Hex(tree.get(e.path) ?? Buffer.alloc(0)) });
      const check = run('/usr/bin/sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: dir });
      expect(check.stderr).toBe('');
      expect(check.status).toBe(0);
      expect(check.stdout.split('\n').filter(Boolean)).toHaveLength(others.length);
    }
  });

  it.each(EXAMPLE_PLANS)('%s: the compiler writes scripts 0755 and every other file 0644, whatever the umask', (name) => {
    for (const dir of [join(fromRoot, name), join(fromElsewhere, name)]) {
      const modes = Object.fromEntries([...readTree(dir).keys()].map((p) => [p, (statSync(join(dir, p)).mode & 0o7777).toString(8)]));
      const wanted = Object.fromEntries(Object.keys(modes).map((p) => [p, p.endsWith('.sh') ? '755' : '644']));
      expect(modes).toEqual(wanted);
    }
  });

  it.each(EXAMPLE_PLANS)('%s: in the committed out/, exactly the scripts are executable (git keeps only that bit)', (name) => {
    const dir = join(OUT_DIR, name);
    const executable = Object.fromEntries([...readTree(dir).keys()].map((p) => [p, (statSync(join(dir, p)).mode & 0o111) !== 0]));
    expect(executable).toEqual(Object.fromEntries(Object.keys(executable).map((p) => [p, p.endsWith('.sh')])));
  });
});
