/**
 * The build step (scripts/precompile.mjs) precompiles the templates and the plan schema's
 * check so `pitr` starts fast. What it made is used only while it matches the sources
 * on disk, and must behave exactly like compiling them at run time: same bytes out, same
 * errors.
 */
import { planJsonText, sha256 } from '../../src/plan/plan-json.js';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { buildModel } from '../../src/compile/model.js';
import {
  loadTemplates,
  precompiledTemplatesModule,
  prepareTemplates,
  type PreparedTemplates,
  type TemplateSet,
} from '../../src/compile/render.js';
import { loadPlanSource } from '../../src/plan/load.js';
import { prepareSchemaCheck, standaloneSchemaCheckModule, type PlanSchemaCheck } from '../../src/plan/validate.js';
import { TEMPLATES_DIR } from '../../src/paths.js';
import { EXAMPLE_PLANS, examplePlanPath, loadExamplePlan, REPO_ROOT } from './compiler-helpers.js';

// Inside the checkout, so the standalone check's require("ajv/...") finds node_modules/.
const CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache');
mkdirSync(CACHE_DIR, { recursive: true });
const workDir = mkdtempSync(join(CACHE_DIR, 'pitr-precompiled-test-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const NOT_BUILT = join(workDir, 'not-built.cjs');

function writeModule(name: string, text: string): string {
  const path = join(workDir, name);
  writeFileSync(path, text);
  return path;
}

function renderAll(prepared: PreparedTemplates, model: unknown): Map<string, string> {
  return new Map([...prepared.templates].map(([path, template]) => [path, template(model)]));
}

function modelOf(name: string): unknown {
  const plan = loadExamplePlan(name);
  return buildModel(plan, sha256(planJsonText(plan)), '0.0.0-test', null);
}

/** The message of what RENDER throws, or undefined. */
function errorOf(render: () => string): string | undefined {
  try {
    render();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** The templates whose rendering reads a model field (so strict mode fails on {}). */
const TEMPLATES_THAT_READ_THE_MODEL = [
  'RUNBOOK.md',
  'lib/archive.sh',
  'lib/constants.sh',
  'lib/diagnose.sh',
  'lib/disk.sh',
  'lib/lock-use.sh',
  'lib/select-backup.sh',
  'lib/stage-wal.sh',
  'lib/tablespaces.sh',
  'phases/00-preflight.sh',
  'phases/04-fetch.sh',
  'phases/06-recover.sh',
  'phases/08-finalize.sh',
];

describe('precompiled templates', () => {
  const templates = loadTemplates(TEMPLATES_DIR);
  const precompiledPath = writeModule('templates.precompiled.cjs', precompiledTemplatesModule(templates));
  const precompiled = prepareTemplates(templates, precompiledPath);
  const compiled = prepareTemplates(templates, NOT_BUILT);

  it('are used while they were made from exactly the templates being rendered', () => {
    expect(precompiled.from).toBe('precompiled');
    expect(compiled.from).toBe('compiled');
    expect([...precompiled.templates.keys()]).toEqual([...templates.files.keys()]);
  });

  it.each(EXAMPLE_PLANS)('%s: render every file byte for byte as the compiled templates do', (name) => {
    const model = modelOf(name);
    expect(renderAll(precompiled, model)).toEqual(renderAll(compiled, model));
  });

  it('fail with the same strict-mode error on a model that lacks a field', () => {
    const failed: string[] = [];
    for (const [path, template] of precompiled.templates) {
      const expected = errorOf(() => compiled.templates.get(path)?.({}) ?? '');
      if (expected !== undefined) failed.push(path);
      expect(errorOf(() => template({})), path).toBe(expected);
    }
    // Strict mode is on in both. Exactly these templates read the model; the others
    // (like lib/staging.sh) read only compiled constants and render from any model.
    // The exact list, not a share: a precompiler that dropped strict mode for some
    // templates would pass "at least half". A template that starts or stops reading
    // the model changes this list on purpose.
    expect(failed.sort()).toEqual(TEMPLATES_THAT_READ_THE_MODEL);
  });

  it.each([
    ['a template', (set: TemplateSet) => set.files.set('run.sh', `${set.files.get('run.sh')}# edited after the build\n`)],
    ['a partial', (set: TemplateSet) => set.partials.set('_header', `${set.partials.get('_header')}# edited after the build\n`)],
  ])('are not used once %s differs from what they were made from: the edit is rendered', (_what, edit) => {
    const edited: TemplateSet = { files: new Map(templates.files), partials: new Map(templates.partials) };
    edit(edited);
    const prepared = prepareTemplates(edited, precompiledPath);
    expect(prepared.from).toBe('compiled');
    const model = modelOf('realestateos-docker');
    const before = renderAll(compiled, model).get('run.sh') ?? '';
    const after = renderAll(prepared, model).get('run.sh') ?? '';
    expect(after).not.toBe(before);
    expect(after).toContain('# edited after the build\n');
  });
});

describe('the standalone plan schema check', () => {
  const schemaText = readFileSync(join(REPO_ROOT, 'schema', 'plan.schema.json'), 'utf8');
  const standalonePath = writeModule('plan-schema.validate.cjs', standaloneSchemaCheckModule(schemaText));
  const standalone = prepareSchemaCheck(schemaText, standalonePath);
  const compiled = prepareSchemaCheck(schemaText, NOT_BUILT);

  const invalidDir = join(REPO_ROOT, 'test', 'fixtures', 'invalid');
  const plans = [
    ...EXAMPLE_PLANS.map(examplePlanPath),
    ...readdirSync(invalidDir).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(invalidDir, f)),
  ];

  /** Whether VALUE passes and ajv's error objects (verbose: with schema, parentSchema and data). */
  function outcome(check: PlanSchemaCheck, value: unknown): { valid: boolean; errors: unknown } {
    const valid = check(value);
    return { valid, errors: structuredClone(check.errors) };
  }

  it('is used while it was made from exactly the schema on disk', () => {
    expect(standalone.from).toBe('standalone');
    expect(compiled.from).toBe('compiled');
  });

  it('gives the same verdict and the same error objects as ajv compiling the schema, for every example and invalid plan', () => {
    let invalid = 0;
    for (const file of plans) {
      const value = loadPlanSource(file, readFileSync(file, 'utf8')).value;
      const expected = outcome(compiled.check, value);
      if (!expected.valid) invalid += 1;
      expect(outcome(standalone.check, value), file).toEqual(expected);
    }
    // The comparison means something only if many plans fail the schema.
    expect(invalid).toBeGreaterThanOrEqual(10);
  });

  it('is not used once the schema differs from what it was made from', () => {
    const schema = JSON.parse(schemaText) as { properties: { name: { pattern: string } } };
    schema.properties.name.pattern = '^x';
    const edited = prepareSchemaCheck(JSON.stringify(schema, null, 2), standalonePath);
    expect(edited.from).toBe('compiled');
    expect(edited.check({ name: 'realestateos' })).toBe(false);
    expect(edited.check.errors?.some((e) => e.instancePath === '/name' && e.keyword === 'pattern')).toBe(true);
  });
});
