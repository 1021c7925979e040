import { sha256 } from '../plan/plan-json.js';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type HandlebarsModule from 'handlebars';
import type { Constant, ScriptModel } from './model.js';
import { mermaidLabel } from './mermaid.js';
import { shellComment, shellName, shellQuote } from './shell.js';

/** Template sources keyed by output path ("phases/00-preflight.sh"); partials by name. */
export interface TemplateSet {
  files: Map<string, string>;
  partials: Map<string, string>;
}

/** The only helpers templates may call (knownHelpersOnly rejects any other). */
export const TEMPLATE_HELPERS = ['q', 'name', 'comment', 'md', 'mermaid', 'constants', 'eq'] as const;

/** Reads templates/ (I/O). Files starting with "_" are partials, never output. */
export function loadTemplates(dir: string): TemplateSet {
  const files = new Map<string, string>();
  const partials = new Map<string, string>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.hbs')) {
        const rel = relative(dir, full).replace(/\.hbs$/, '');
        if (entry.name.startsWith('_')) partials.set(entry.name.replace(/\.[^/]*\.hbs$|\.hbs$/, ''), readFileSync(full, 'utf8'));
        else files.set(rel, readFileSync(full, 'utf8'));
      }
    }
  };
  walk(dir);
  return { files, partials };
}

/** Markdown inline code that survives backticks and pipes inside the value: the fence
 *  is one backtick longer than the longest run of backticks in the text. */
function markdownCode(value: unknown): string {
  const text = shellComment(String(value)).replaceAll('|', '\\|');
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longestRun + 1);
  const pad = longestRun > 0 ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** The readonly constants block of lib/common.sh: every value through shellQuote. */
function constantsBlock(constants: Constant[]): string {
  return constants
    .map((k) => {
      const about = `# ${shellComment(k.about)}`;
      const values = k.values ?? [k.value ?? ''];
      // shellcheck warns about $ and \' inside single quotes; here they are literal by design.
      const literal = values.some((v) => /[$`\\]/.test(v))
        ? '\n# shellcheck disable=SC2016,SC1003  # a plan value: literal text, never expanded'
        : '';
      if (k.values !== undefined) {
        const words = k.values.map((v) => shellQuote(v)).join(' ');
        return `${about}${literal}\nreadonly -a ${shellName(k.name)}=(${words})`;
      }
      return `${about}${literal}\nreadonly ${shellName(k.name)}=${shellQuote(k.value ?? '')}`;
    })
    .join('\n');
}

type Handlebars = typeof HandlebarsModule;

// Handlebars is loaded on first use, synchronously: its compiler (with source-map) costs
// more start-up time than the rest of `pitr compile`, and precompiled templates need only
// its small runtime.
const requireModule = createRequire(import.meta.url);
const fullHandlebars = (): Handlebars => requireModule('handlebars') as Handlebars;
const handlebarsRuntime = (): Handlebars => requireModule('handlebars/runtime') as Handlebars;

/** Every helper, on either engine: the precompiled and the compiled path must render alike. */
function registerHelpers(hb: Handlebars): void {
  hb.registerHelper('q', (value: unknown) => {
    if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`q: expected a string or number, got ${typeof value}`);
    return shellQuote(value);
  });
  hb.registerHelper('name', (value: unknown) => shellName(String(value)));
  hb.registerHelper('comment', (value: unknown) => shellComment(String(value)));
  hb.registerHelper('md', (value: unknown) => markdownCode(value));
  // Only inside a double-quoted mermaid label: see mermaid.ts.
  hb.registerHelper('mermaid', (value: unknown) => {
    if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`mermaid: expected a string or number, got ${typeof value}`);
    return mermaidLabel(value);
  });
  hb.registerHelper('constants', (value: unknown) => constantsBlock(value as Constant[]));
  hb.registerHelper('eq', (x: unknown, y: unknown) => x === y);
}

const COMPILE_OPTIONS = {
  strict: true,
  noEscape: true,
  knownHelpersOnly: true,
  knownHelpers: Object.fromEntries(TEMPLATE_HELPERS.map((h) => [h, true])),
} as const;

/** templates.precompiled.cjs, as scripts/precompile.mjs writes it (npm run build). */
export interface PrecompiledTemplates {
  fingerprint: string;
  files: Record<string, TemplateSpecification>;
  partials: Record<string, TemplateSpecification>;
}

/** Beside this module: in dist/compile/ for the CLI; src/ has none, so tests of src/ compile the templates. */
export const PRECOMPILED_TEMPLATES_PATH = fileURLToPath(new URL('./templates.precompiled.cjs', import.meta.url));

/**
 * Everything a compiled template depends on besides the helpers: Handlebars' version, the
 * compile options and every source. Precompiled templates are used only under the
 * fingerprint of the sources being rendered, so an edited template is never ignored.
 */
export function templatesFingerprint(templates: TemplateSet, handlebarsVersion: string): string {
  return sha256(JSON.stringify([handlebarsVersion, COMPILE_OPTIONS, [...templates.files], [...templates.partials]]));
}

/** The text of templates.precompiled.cjs: each template and partial precompiled with the options the fallback compiles with. */
export function precompiledTemplatesModule(templates: TemplateSet): string {
  const hb = fullHandlebars();
  // precompile writes into its options object (data, knownHelpers): hand it a copy each time.
  const specs = (sources: Map<string, string>): string =>
    [...sources].map(([name, source]) => `  ${JSON.stringify(name)}: ${String(hb.precompile(source, { ...COMPILE_OPTIONS }))},\n`).join('');
  return [
    '// GENERATED by scripts/precompile.mjs (npm run build) from templates/; do not edit.',
    '// src/compile/render.ts uses it only while the fingerprint matches the templates it renders.',
    "'use strict';",
    `exports.fingerprint = ${JSON.stringify(templatesFingerprint(templates, hb.VERSION))};`,
    `exports.files = {\n${specs(templates.files)}};`,
    `exports.partials = {\n${specs(templates.partials)}};`,
    '',
  ].join('\n');
}

function readPrecompiled(path: string): PrecompiledTemplates | undefined {
  try {
    return requireModule(path) as PrecompiledTemplates;
  } catch (error) {
    // Not built (tests run src/, or tsc alone): compile instead.
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

type Compiled = Map<string, HandlebarsTemplateDelegate>;

export interface PreparedTemplates {
  /** Which path made them: for tests and profiling; the output is the same. */
  from: 'precompiled' | 'compiled';
  templates: Compiled;
}

/**
 * Templates ready to render, keyed by output path: the precompiled ones, through the
 * runtime, when they were made from exactly these sources (and options and Handlebars
 * version); else compiled here with the full compiler.
 */
export function prepareTemplates(templates: TemplateSet, precompiledPath = PRECOMPILED_TEMPLATES_PATH): PreparedTemplates {
  const runtime = handlebarsRuntime();
  const precompiled = readPrecompiled(precompiledPath);
  if (precompiled?.fingerprint === templatesFingerprint(templates, runtime.VERSION)) {
    const hb = runtime.create();
    registerHelpers(hb);
    for (const name of templates.partials.keys()) hb.registerPartial(name, hb.template(specOf(precompiled.partials, name)));
    return { from: 'precompiled', templates: new Map([...templates.files.keys()].map((path) => [path, hb.template(specOf(precompiled.files, path))])) };
  }
  const hb = fullHandlebars().create();
  registerHelpers(hb);
  for (const [name, source] of templates.partials) hb.registerPartial(name, source);
  return { from: 'compiled', templates: new Map([...templates.files].map(([path, source]) => [path, hb.compile(source, COMPILE_OPTIONS)])) };
}

function specOf(specs: Record<string, TemplateSpecification>, name: string): TemplateSpecification {
  const spec = specs[name];
  if (spec === undefined) throw new Error(`internal: precompiled templates lack ${name} although the fingerprint matches`);
  return spec;
}

const compiledCache = new WeakMap<TemplateSet, Compiled>();

/** Templates prepared once per template set (compiling is the slow part of rendering). */
function compiledTemplates(templates: TemplateSet): Compiled {
  let compiled = compiledCache.get(templates);
  if (!compiled) {
    compiled = prepareTemplates(templates).templates;
    compiledCache.set(templates, compiled);
  }
  return compiled;
}

const VIEW_PATH = /^views\/([a-z0-9]+)\/([a-z0-9_]+)\.sh$/;

/**
 * Where a template renders for MODEL: its own path, or lib/<axis>.sh for the view of the
 * model's kind on that axis (templates/views/<axis>/<kind>.sh); null for the views of
 * other kinds, which a bundle never contains.
 */
export function outputPath(templatePath: string, views: Readonly<Record<string, string>>): string | null {
  const view = VIEW_PATH.exec(templatePath);
  if (view === null) {
    if (templatePath.startsWith('views/')) throw new Error(`internal: template ${templatePath} is not named views/<axis>/<kind>.sh`);
    return templatePath;
  }
  const [, axis = '', kind = ''] = view;
  if (!(axis in views)) throw new Error(`internal: template ${templatePath}: no view axis ${axis} in the model`);
  return views[axis] === kind ? `lib/${axis}.sh` : null;
}

/**
 * Renders every output file. Pure: no fs, clock, env or randomness; paths sorted.
 * plan.json, the compiler's data files (e.g. lib/pinned.tsv) and SHA256SUMS are added
 * here so the checksums cover exactly what is written.
 */
export function renderBundle(
  model: ScriptModel,
  templates: TemplateSet,
  planJson: string,
  dataFiles: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  const rendered = new Map<string, string>();
  const views: Readonly<Record<string, string>> = model.views;
  for (const [templatePath, template] of compiledTemplates(templates)) {
    const path = outputPath(templatePath, views);
    if (path === null) continue;
    if (rendered.has(path)) throw new Error(`internal: ${templatePath} would replace ${path}`);
    const text = template(model);
    rendered.set(path, text.endsWith('\n') ? text : `${text}\n`);
  }
  for (const [axis, kind] of Object.entries(views)) {
    if (!rendered.has(`lib/${axis}.sh`)) throw new Error(`internal: no template views/${axis}/${kind}.sh for the plan's ${axis} kind ${kind}`);
  }
  rendered.set('plan.json', planJson);
  for (const [path, text] of dataFiles) {
    if (rendered.has(path)) throw new Error(`internal: data file ${path} would replace a rendered file`);
    rendered.set(path, text);
  }
  const paths = [...rendered.keys()].sort();
  const sums = paths.map((p) => `${sha256(rendered.get(p) ?? '')}  ${p}`).join('\n');
  const out = new Map<string, string>();
  for (const p of paths) out.set(p, rendered.get(p) ?? '');
  out.set('SHA256SUMS', `${sums}\n`);
  return new Map([...out.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}
