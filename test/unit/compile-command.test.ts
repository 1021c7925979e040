/**
 * `pitr compile` and `pitr validate` as users and CI run them: the real bin/pitr.js in a
 * child process, asserting exit codes (0 ok, 1 findings or stale output, 2 usage or
 * internal), messages, and what is (not) written. Uses dist/ (built by the global setup).
 *
 * shellcheck is replaced by a fake on PATH where its verdict matters, and skipped with
 * --no-shellcheck elsewhere: the real one costs ~12 s per plan and is exercised by
 * templates-quote.test.ts.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE_PLANS,
  examplePlanPath,
  makeTempDir,
  OUT_DIR,
  readTree,
  removeTempDirs,
  REPO_ROOT,
  runPitr,
  snapshotTree,
} from './compiler-helpers.js';

afterAll(() => {
  removeTempDirs();
});

const PLAN_ARGS = EXAMPLE_PLANS.map((n) => `plans/${n}.yaml`);
const ABS_PLANS = EXAMPLE_PLANS.map(examplePlanPath);
const INVALID = 'test/fixtures/invalid/two-targets.yaml';

/** A copy of the committed out/ in a temp dir (modes preserved), returned as the --out DIR. */
function copyOfOut(): string {
  const dir = makeTempDir('pitr-out-copy-');
  cpSync(OUT_DIR, dir, { recursive: true });
  for (const name of EXAMPLE_PLANS) {
    for (const path of readTree(join(OUT_DIR, name)).keys()) {
      chmodSync(join(dir, name, path), statSync(join(OUT_DIR, name, path)).mode & 0o777);
    }
  }
  return dir;
}

function flipOneByte(file: string, at = 100): void {
  const bytes = readFileSync(file);
  bytes[at] = bytes[at] === 0x41 ? 0x42 : 0x41;
  writeFileSync(file, bytes);
}

/** A directory for PATH holding a fake shellcheck (a /bin/sh script) and node. */
function fakeShellcheckBin(script: string): string {
  const bin = makeTempDir('pitr-fake-bin-');
  writeFileSync(join(bin, 'shellcheck'), `#!/bin/sh\n${script}\n`);
  chmodSync(join(bin, 'shellcheck'), 0o755);
  symlinkSync(process.execPath, join(bin, 'node'));
  return bin;
}

const FAKE_FINDING = JSON.stringify({
  comments: [{ file: 'run.sh', line: 7, endLine: 7, column: 3, endColumn: 9, level: 'warning', code: 2086, message: 'fake finding from the test', fix: null }],
});

describe('pitr compile --check', () => {
  it('exits 0 on the committed out/ (it is fresh)', () => {
    const result = runPitr(['compile', '--check', ...PLAN_ARGS]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const name of EXAMPLE_PLANS) expect(result.stdout).toContain(`plans/${name}.yaml: out/${name}/ is up to date`);
  });

  it('exits 0 on an exact copy of out/', () => {
    const dir = copyOfOut();
    const result = runPitr(['compile', '--check', '--out', dir, ...PLAN_ARGS]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('exits 1 naming the one changed file, and writes nothing', () => {
    const dir = copyOfOut();
    flipOneByte(join(dir, 'realestateos-docker', 'phases', '04-fetch.sh'));
    const before = snapshotTree(dir);
    const result = runPitr(['compile', '--check', '--out', dir, ...PLAN_ARGS]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`stale: ${dir}/realestateos-docker/phases/04-fetch.sh (content differs)`);
    expect(result.stderr.match(/^stale: /gm)).toHaveLength(1);
    expect(result.stderr).toContain('1 file(s) differ from a fresh compile');
    expect(result.stdout).toContain(`plans/realestateos-k8s.yaml: ${dir}/realestateos-k8s/ is up to date`);
    expect(snapshotTree(dir)).toEqual(before);
  });

  it('names an extra file, a missing file and a wrong mode, and writes nothing', () => {
    const dir = copyOfOut();
    writeFileSync(join(dir, 'realestateos-k8s', 'phases', '99-extra.sh'), 'echo extra\n');
    // rewritten with the same bytes (new mtime): not stale
    const runbook = join(dir, 'realestateos-docker', 'RUNBOOK.md');
    writeFileSync(runbook, readFileSync(runbook));
    rmSync(join(dir, 'realestateos-docker', 'plan.json'));
    chmodSync(join(dir, 'realestateos-docker', 'run.sh'), 0o644);
    const before = snapshotTree(dir);
    const result = runPitr(['compile', '--check', '--out', dir, ...PLAN_ARGS]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`stale: ${dir}/realestateos-k8s/phases/99-extra.sh (not produced by the compiler)`);
    expect(result.stderr).toContain(`stale: ${dir}/realestateos-docker/plan.json (missing)`);
    expect(result.stderr).toContain(`stale: ${dir}/realestateos-docker/run.sh (executable bit differs)`);
    expect(result.stderr).not.toContain('RUNBOOK.md');
    expect(result.stderr).toContain('3 file(s) differ');
    expect(snapshotTree(dir)).toEqual(before);
  });

  // git records only the executable bit; a checkout made under umask 002 (the default for
  // users with their own group, e.g. on Ubuntu) has 0775/0664 and must not be "stale".
  it('accepts a checkout made under umask 002 (0775/0664): git records only the x bit', () => {
    const dir = copyOfOut();
    for (const name of EXAMPLE_PLANS) {
      for (const path of readTree(join(dir, name)).keys()) chmodSync(join(dir, name, path), path.endsWith('.sh') ? 0o775 : 0o664);
    }
    const result = runPitr(['compile', '--check', '--out', dir, ...PLAN_ARGS]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('does not create a missing output directory', () => {
    const parent = makeTempDir('pitr-check-missing-');
    const out = join(parent, 'never');
    const result = runPitr(['compile', '--check', '--out', out, ...PLAN_ARGS]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`stale: ${out}/realestateos-docker/run.sh (missing)`);
    expect(existsSync(out)).toBe(false);
  });
});

describe('pitr compile of an invalid plan', () => {
  it('exits 1 with FILE:LINE:COL and writes nothing, even for the valid plan given with it', () => {
    const out = copyOfOut();
    // make the old output recognisably old
    writeFileSync(join(out, 'realestateos-docker', 'OLD'), 'old\n');
    const before = snapshotTree(out);
    const fresh = join(makeTempDir('pitr-invalid-'), 'out');
    for (const dir of [out, fresh]) {
      const result = runPitr(['compile', '--out', dir, '--no-shellcheck', 'plans/realestateos-docker.yaml', INVALID]);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/^test\/fixtures\/invalid\/two-targets\.yaml:6:3: error: target sets 2 recovery targets/m);
      expect(result.stderr).toContain('  6 |   xid: 1234567');
      expect(result.stderr).toContain('nothing was written');
      expect(result.stdout).toBe('');
    }
    expect(snapshotTree(out)).toEqual(before);
    expect(existsSync(fresh)).toBe(false);
  });

  it('a newline in recovery.workDir is a finding at FILE:LINE:COL (exit 1), not an internal error', () => {
    const dir = makeTempDir('pitr-newline-');
    const plan = join(dir, 'plan.yaml');
    const text = readFileSync(examplePlanPath('realestateos-docker'), 'utf8')
      .replace('  workDir: /var/lib/postgresql/recovery\n', '  workDir: "/var/lib/postgresql/recovery\\nx"\n');
    expect(text).toContain('\\nx"');
    writeFileSync(plan, text);
    const line = text.split('\n').findIndex((l) => l.startsWith('  workDir:')) + 1;
    const result = runPitr(['compile', '--out', join(dir, 'out'), '--no-shellcheck', plan]);
    expect(result.stderr).not.toContain('internal error');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^${plan}:${line}:\\d+: error: `, 'm'));
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('exits 2 for a plan file that cannot be read, writing nothing', () => {
    const out = join(makeTempDir('pitr-unreadable-'), 'out');
    const result = runPitr(['compile', '--out', out, '--no-shellcheck', 'plans/realestateos-docker.yaml', 'plans/does-not-exist.yaml']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('plans/does-not-exist.yaml: error: cannot read the plan');
    expect(existsSync(out)).toBe(false);
  });

  it('exits 1 when two plans have the same name, writing nothing', () => {
    const dir = makeTempDir('pitr-dup-');
    const copy = join(dir, 'copy.yaml');
    cpSync(examplePlanPath('realestateos-docker'), copy);
    const out = join(dir, 'out');
    const result = runPitr(['compile', '--out', out, '--no-shellcheck', 'plans/realestateos-docker.yaml', copy]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${copy}: error: plan name "realestateos-docker" is also used by plans/realestateos-docker.yaml`);
    expect(existsSync(out)).toBe(false);
  });
});

describe('pitr compile writes atomically behind the shellcheck gate', () => {
  it('a shellcheck finding replaces nothing, leaves no temp dir, and names out/<name>/<file>:line', () => {
    const cwd = makeTempDir('pitr-atomic-');
    cpSync(OUT_DIR, join(cwd, 'out'), { recursive: true });
    writeFileSync(join(cwd, 'out', 'realestateos-docker', 'OLD'), 'old\n');
    const before = snapshotTree(join(cwd, 'out'));
    const bin = fakeShellcheckBin(`printf '%s' '${FAKE_FINDING}'\nexit 1`);
    const result = runPitr(['compile', examplePlanPath('realestateos-docker')], { cwd, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('shellcheck rejected the generated scripts (nothing was written)');
    expect(result.stderr).toContain('out/realestateos-docker/run.sh:7:3: warning: fake finding from the test [SC2086]');
    expect(snapshotTree(join(cwd, 'out'))).toEqual(before);
    expect(readdirSync(join(cwd, 'out')).sort()).toEqual([...EXAMPLE_PLANS].sort());
  });

  it('the fake shellcheck is given every generated script, relative to the temp dir', () => {
    const cwd = makeTempDir('pitr-atomic-args-');
    const log = join(cwd, 'args.txt');
    // One line per shellcheck run (there may be one per core): its directory, then its arguments.
    const bin = fakeShellcheckBin(`printf '%s' "$PWD" >>'${log}'; printf ' %s' "$@" >>'${log}'; echo >>'${log}'\nprintf '{"comments":[]}'\nexit 0`);
    const result = runPitr(['compile', '--out', join(cwd, 'out'), examplePlanPath('realestateos-docker')], { cwd, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const runs = readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' '));
    const scripts = [...readTree(join(OUT_DIR, 'realestateos-docker')).keys()].filter((p) => p.endsWith('.sh'));
    for (const [pwd, ...args] of runs) {
      expect(pwd).toMatch(new RegExp(`^${cwd}/out/\\.realestateos-docker\\.tmp-\\d+$`));
      expect(args).toContain('--format=json1');
    }
    // Every script exactly once across the runs.
    expect(runs.flatMap(([, ...args]) => args.filter((a) => !a.startsWith('-'))).sort()).toEqual([...scripts].sort());
    expect(readdirSync(join(cwd, 'out'))).toEqual(['realestateos-docker']);
  });

  // A bad plan among several leaves out/ untouched: every plan is shellchecked in its temp
  // dir before any directory is replaced.
  it('a finding in the second plan replaces neither plan', () => {
    const cwd = makeTempDir('pitr-atomic-two-');
    mkdirSync(join(cwd, 'out', 'realestateos-docker'), { recursive: true });
    mkdirSync(join(cwd, 'out', 'realestateos-k8s'), { recursive: true });
    writeFileSync(join(cwd, 'out', 'realestateos-docker', 'OLD'), 'old\n');
    writeFileSync(join(cwd, 'out', 'realestateos-k8s', 'OLD'), 'old\n');
    const before = snapshotTree(join(cwd, 'out'));
    const bin = fakeShellcheckBin(`case "$PWD" in *k8s*) printf '%s' '${FAKE_FINDING}'; exit 1 ;; esac\nprintf '{"comments":[]}'`);
    const result = runPitr(['compile', ...ABS_PLANS], { cwd, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('out/realestateos-k8s/run.sh:7:3');
    expect(snapshotTree(join(cwd, 'out'))).toEqual(before);
  });

  it('without shellcheck on PATH: exit 2 with the install hint, nothing written; --no-shellcheck then works', () => {
    const cwd = makeTempDir('pitr-no-sc-');
    const bin = makeTempDir('pitr-node-only-');
    symlinkSync(process.execPath, join(bin, 'node'));
    const env = { ...process.env, PATH: bin };
    const out = join(cwd, 'out');
    const refused = runPitr(['compile', '--out', out, ...ABS_PLANS], { cwd, env });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('shellcheck is not installed');
    expect(refused.stderr).toContain("'apt-get update && apt-get install -y shellcheck'");
    expect(refused.stderr).toContain('--no-shellcheck');
    expect(refused.stderr).not.toContain('internal error');
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);

    const done = runPitr(['compile', '--out', out, '--no-shellcheck', ...ABS_PLANS], { cwd, env });
    expect(done.stderr).toBe('');
    expect(done.status).toBe(0);
    for (const name of EXAMPLE_PLANS) {
      expect(done.stdout).toContain(`${examplePlanPath(name)} → ${out}/${name}/ (`);
      expect([...readTree(join(out, name)).keys()]).toEqual([...readTree(join(OUT_DIR, name)).keys()]);
    }
    expect(readdirSync(out).sort()).toEqual([...EXAMPLE_PLANS].sort());
  });
});

describe('pitr validate exit codes', () => {
  it('0 for the example plans', () => {
    const result = runPitr(['validate', ...PLAN_ARGS]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(PLAN_ARGS.map((p) => `${p}: ok\n`).join(''));
  });

  it('1 for an invalid fixture, with FILE:LINE:COL', () => {
    const result = runPitr(['validate', INVALID]);
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(`${readFileSync(join(REPO_ROOT, INVALID.replace(/\.yaml$/, '.expected')), 'utf8')}\n`);
  });

  it('2 for a missing file', () => {
    const result = runPitr(['validate', 'plans/no-such-plan.yaml']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('plans/no-such-plan.yaml: error: cannot read file');
  });

  it('--format json prints one parseable document', () => {
    const result = runPitr(['validate', '--format', 'json', ...PLAN_ARGS, INVALID]);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as { files: { file: string; ok: boolean; findings: { line: number; column: number }[] }[] };
    expect(report.files.map((f) => [f.file, f.ok])).toEqual([...PLAN_ARGS.map((p) => [p, true]), [INVALID, false]]);
    expect(report.files[2]?.findings[0]).toMatchObject({ line: 6, column: 3 });
  });

  it('2 for an unknown --format', () => {
    const result = runPitr(['validate', '--format', 'xml', ...PLAN_ARGS]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--format must be text or json');
  });
});

describe('pitr usage', () => {
  it('--help exits 0 and lists the commands', () => {
    const result = runPitr(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: pitr');
    expect(result.stdout).toContain('validate');
    expect(result.stdout).toContain('compile');
  });

  it('compile --help documents --out, --check and --no-shellcheck', () => {
    const result = runPitr(['compile', '--help']);
    expect(result.status).toBe(0);
    for (const option of ['--out <dir>', '--check', '--no-shellcheck']) expect(result.stdout).toContain(option);
  });

  it('--version prints the package version', () => {
    const result = runPitr(['--version']);
    expect(result.status).toBe(0);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(result.stdout.trim()).toBe(pkg.version);
  });

  it('an unknown command exits 2', () => {
    const result = runPitr(['frobnicate']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });

  it('compile without a plan exits 2', () => {
    const result = runPitr(['compile']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('missing required argument');
  });
});
