/**
 * docs/ ships a GitHub Actions workflow and pre-commit hooks for plan pull requests.
 * They are copied into users' repositories, so they must parse, check what they claim
 * (validate, compile --check, shellcheck), and their commands must pass on this
 * repository's committed plans and out/.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from './compiler-helpers.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
}
interface Workflow {
  on: { pull_request: { paths: string[] } };
  permissions: Record<string, string>;
  jobs: Record<string, { steps: Step[] }>;
}
interface Hook {
  id: string;
  entry: string;
  language: string;
  files: string;
  pass_filenames?: boolean;
}

const workflow = parse(readFileSync(join(REPO_ROOT, 'docs', 'github-actions-plan-pr.yml'), 'utf8')) as Workflow;
const precommit = parse(readFileSync(join(REPO_ROOT, 'docs', 'pre-commit-config.yaml'), 'utf8')) as { repos: { repo: string; hooks: Hook[] }[] };
const steps = Object.values(workflow.jobs).flatMap((j) => j.steps);
const hooks = precommit.repos.flatMap((r) => r.hooks);
const PLANS = ['plans/realestateos-docker.yaml', 'plans/realestateos-k8s.yaml'];

/** Runs a command line the way pre-commit runs a local hook's entry, from the repo root. */
function runEntry(entry: string, files: string[]): { status: number | null; output: string } {
  const r = spawnSync('bash', ['-c', `${entry} ${files.map((f) => `'${f}'`).join(' ')}`], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 400_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('docs/github-actions-plan-pr.yml', () => {
  it('runs on plan pull requests with read-only permissions', () => {
    expect(workflow.on.pull_request.paths).toEqual(expect.arrayContaining(['plans/**', 'out/**']));
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(steps.map((s) => s.uses).filter(Boolean)).toEqual(['actions/checkout@v4', 'actions/setup-node@v4']);
  });

  it('validates, checks out/ is fresh, shellchecks every bundle, and shows the RUNBOOKs', () => {
    const runs = steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('npm ci');
    expect(runs).toContain('npx --no-install pitr validate plans/*.yaml');
    expect(runs).toContain('npx --no-install pitr compile --check plans/*.yaml');
    expect(runs).toContain('shellcheck -x run.sh drill.sh rollback.sh phases/*.sh lib/*.sh');
    expect(runs).toContain('$GITHUB_STEP_SUMMARY');
  });

  it('never expands ${{ }} inside a run script (values go through env)', () => {
    for (const step of steps) expect(step.run ?? '', step.name).not.toContain('${{');
  });
});

describe('docs/pre-commit-config.yaml', () => {
  it('has the three local hooks', () => {
    expect(precommit.repos.map((r) => r.repo)).toEqual(['local']);
    expect(hooks.map((h) => h.id)).toEqual(['pitr-validate', 'pitr-compile-check', 'shellcheck-generated-scripts']);
    for (const h of hooks) expect(h.language).toBe('system');
    expect(PLANS.every((p) => new RegExp(hooks[0]!.files).test(p))).toBe(true);
    expect(new RegExp(hooks[1]!.files).test('out/realestateos-docker/run.sh')).toBe(true);
  });

  it('pitr-validate passes on the example plans', () => {
    const r = runEntry(hooks[0]!.entry, PLANS);
    expect(r.status, r.output).toBe(0);
  }, 60_000);

  it('pitr-compile-check passes on the committed out/', () => {
    // The hook rebuilds dist/ first; here vitest's global setup has built it, and a second
    // tsc writing dist/ would race with other test files running bin/pitr.js.
    const entry = hooks[1]!.entry;
    expect(entry).toContain('npm run --silent build && ');
    const r = runEntry(entry.replace('npm run --silent build && ', ''), []);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain('is up to date');
  }, 60_000);

  it('shellcheck-generated-scripts passes on the committed out/', () => {
    // One shellcheck process per bundle, every script with the libraries it sources: about
    // 80 s for both bundles on an idle 2-core machine, several times that beside e2e tests.
    const r = runEntry(hooks[2]!.entry, []);
    expect(r.status, r.output).toBe(0);
  }, 420_000);
});
