/**
 * Plan values reach the generated bash only through the compiler's quoting (DESIGN.md,
 * "Quoting"). Two proofs:
 *
 * 1. Static: every template's Handlebars AST is walked. In .sh templates and partials a
 *    mustache may only call `q`, `comment`, `name` or `constants` (never print a bare
 *    path, never triple-stash), and each in a context where its output is safe.
 * 2. Dynamic: a plan whose every free-text field is hostile (as far as the validator
 *    accepts: it goes through validatePlanText/loadAndValidate, so every value is one a
 *    user can write) is compiled and written; the scripts pass shellcheck and `bash -n`,
 *    sourcing lib/common.sh gives back every value exactly, nothing was executed, and no
 *    secret from the environment leaked. Tests marked it.fails are known bugs (see there).
 */
import { planJsonText, sha256 } from '../../src/plan/plan-json.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Handlebars from 'handlebars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { buildModel } from '../../src/compile/model.js';
import type { Constant } from '../../src/compile/script-constants.js';
import { loadTemplates, TEMPLATE_HELPERS } from '../../src/compile/render.js';
import { runShellcheck, type ShellcheckFinding } from '../../src/compile/shellcheck.js';
import { writeBundle } from '../../src/compile/write.js';
import { loadAndValidate } from '../../src/plan/validate.js';
import type { NormalizedPlan } from '../../src/plan/normalized.js';
import { validatePlanText } from '../../src/plan/validate.js';
import { compilerVersion, TEMPLATES_DIR } from '../../src/paths.js';
import { examplePlanPath, makeTempDir, removeTempDirs, run } from './compiler-helpers.js';

afterAll(() => {
  removeTempDirs();
});

// ------------------------------------------------------------------ static check

/** Helpers whose output may appear in a .sh file. */
const SH_PRINT_HELPERS = ['q', 'comment', 'name', 'constants'] as const;
/** Block helpers that choose code; they print nothing themselves. */
const BLOCK_HELPERS = ['if', 'unless', 'each'] as const;
/** In RUNBOOK.md: bare paths that print only compiler-made text, never free plan text.
 *  (runbook.recoveryConf holds plan values, but each through confQuote: one line each,
 *  inside a ~~~~ fence that no line of it can close.) */
const RUNBOOK_BARE_PATHS = ['planSha256', 'compilerVersion', 'this.file', 'this.title', '@index', 'runbook.recoveryConf'];

function templateFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...templateFiles(full));
    else if (entry.name.endsWith('.hbs')) out.push(full);
  }
  return out.sort();
}

const ALL_TEMPLATES = templateFiles(TEMPLATES_DIR);
const SH_TEMPLATES = ALL_TEMPLATES.filter((f) => f.endsWith('.sh.hbs'));
const PARTIALS = ALL_TEMPLATES.filter((f) => relative(TEMPLATES_DIR, f).startsWith('_partials/'));
const PARTIAL_NAMES = PARTIALS.map((f) => f.slice(f.lastIndexOf('/') + 1).replace(/\.hbs$/, ''));

type ShellState = 'normal' | 'single' | 'double' | 'comment';

/** Where a position on a bash line is: inside '...', "...", a # comment, or plain code. */
function shellStateAt(prefix: string): ShellState {
  let state: ShellState = 'normal';
  for (let i = 0; i < prefix.length; i++) {
    const ch = prefix[i];
    if (state === 'comment') break;
    if (state === 'single') {
      if (ch === "'") state = 'normal';
    } else if (state === 'double') {
      if (ch === '\\') i++;
      else if (ch === '"') state = 'normal';
    } else if (ch === '\\') i++;
    else if (ch === "'") state = 'single';
    else if (ch === '"') state = 'double';
    else if (ch === '#' && (i === 0 || /\s/.test(prefix[i - 1] ?? ''))) state = 'comment';
  }
  return state;
}

/** 1-based line numbers that are the body of a here-document. */
function heredocLines(source: string): Set<number> {
  const lines = source.split('\n');
  const body = new Set<number>();
  let terminator: string | null = null;
  lines.forEach((line, index) => {
    if (terminator !== null) {
      if (line.trim() === terminator) terminator = null;
      else body.add(index + 1);
      return;
    }
    const m = /<<-?\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\1/.exec(line);
    if (m && !/<<</.test(line)) terminator = m[2] ?? null;
  });
  return body;
}

interface Offence {
  where: string;
  what: string;
}

function checkTemplate(file: string, kind: 'sh' | 'markdown'): Offence[] {
  const source = readFileSync(file, 'utf8');
  const rel = relative(TEMPLATES_DIR, file);
  const lines = source.split('\n');
  const heredoc = heredocLines(source);
  const offences: Offence[] = [];
  const at = (node: hbs.AST.Node): string => `templates/${rel}:${node.loc.start.line}:${node.loc.start.column + 1}`;
  const report = (node: hbs.AST.Node, what: string): void => {
    offences.push({ where: at(node), what });
  };

  const checkExpression = (expr: hbs.AST.Expression, node: hbs.AST.Node): void => {
    if (expr.type === 'SubExpression') {
      const sub = expr as hbs.AST.SubExpression;
      if (!(TEMPLATE_HELPERS as readonly string[]).includes(sub.path.original)) report(node, `sub-expression calls unknown helper "${sub.path.original}"`);
      sub.params.forEach((p) => checkExpression(p, node));
    }
  };

  const checkMustache = (m: hbs.AST.MustacheStatement): void => {
    if (!m.escaped) report(m, 'triple-stash {{{...}}} prints raw text');
    if (m.path.type !== 'PathExpression') {
      report(m, 'prints a literal');
      return;
    }
    const path = m.path as hbs.AST.PathExpression;
    const helper = path.original;
    const isCall = m.params.length > 0;
    m.params.forEach((p) => checkExpression(p, m));
    if (m.hash && m.hash.pairs.length > 0) report(m, `{{${helper} ...}} passes hash arguments`);
    if (kind === 'markdown') {
      if (isCall && !(TEMPLATE_HELPERS as readonly string[]).includes(helper)) report(m, `calls unknown helper "${helper}"`);
      if (isCall && !['md', 'comment', 'mermaid'].includes(helper)) report(m, `{{${helper} ...}} does not make markdown text`);
      if (helper === 'mermaid') {
        // mermaid-escaped text is safe only inside a "..." label of a ```mermaid block.
        const before = lines.slice(0, m.loc.start.line - 1);
        const fence = before.filter((l) => /^```/.test(l)).pop();
        const prefix = (lines[m.loc.start.line - 1] ?? '').slice(0, m.loc.start.column);
        if (fence !== '```mermaid') report(m, '{{mermaid ...}} outside a ```mermaid block');
        else if ((prefix.split('"').length - 1) % 2 !== 1) report(m, '{{mermaid ...}} outside a "..." label');
      }
      if (!isCall && !RUNBOOK_BARE_PATHS.includes(helper)) report(m, `prints the bare value {{${helper}}}; use {{md ${helper}}}`);
      return;
    }
    if (!isCall) {
      report(m, `prints the bare value {{${helper}}}; plan values must go through q (or comment/name)`);
      return;
    }
    if (!(SH_PRINT_HELPERS as readonly string[]).includes(helper)) {
      report(m, `{{${helper} ...}} prints in a shell script; only ${SH_PRINT_HELPERS.join(', ')} may`);
      return;
    }
    if (m.params.length !== 1) report(m, `{{${helper} ...}} takes exactly one value`);
    const line = lines[m.loc.start.line - 1] ?? '';
    const state = shellStateAt(line.slice(0, m.loc.start.column));
    if (helper === 'q') {
      if (heredoc.has(m.loc.start.line)) report(m, '{{q ...}} inside a here-document: the quotes would be literal (and $(...) live in <<WORD)');
      else if (state !== 'normal') report(m, `{{q ...}} inside ${state} quoting: the shell word would not be a word`);
    }
    if (helper === 'comment' && state !== 'comment') report(m, '{{comment ...}} outside a # comment');
    if (helper === 'constants' && line.trim() !== `{{constants ${m.params.map((p) => (p as hbs.AST.PathExpression).original).join(' ')}}}`) {
      report(m, '{{constants ...}} must stand alone on its line');
    }
    if (helper === 'name' && (state === 'single' || state === 'comment')) report(m, `{{name ...}} inside ${state}`);
  };

  const walk = (program: hbs.AST.Program | undefined): void => {
    if (!program) return;
    for (const node of program.body) {
      switch (node.type) {
        case 'ContentStatement':
        case 'CommentStatement':
          break;
        case 'MustacheStatement':
          checkMustache(node as hbs.AST.MustacheStatement);
          break;
        case 'BlockStatement': {
          const block = node as hbs.AST.BlockStatement;
          const name = block.path.original;
          if (!(BLOCK_HELPERS as readonly string[]).includes(name)) report(block, `block helper "#${name}" (only ${BLOCK_HELPERS.join(', ')})`);
          if (block.params.length !== 1) report(block, `#${name} takes exactly one parameter`);
          block.params.forEach((p) => checkExpression(p, block));
          if (block.hash && block.hash.pairs.length > 0) report(block, `#${name} passes hash arguments`);
          walk(block.program);
          walk(block.inverse);
          break;
        }
        case 'PartialStatement': {
          const partial = node as hbs.AST.PartialStatement;
          const name = partial.name.type === 'PathExpression' ? (partial.name as hbs.AST.PathExpression).original : '(dynamic)';
          if (!PARTIAL_NAMES.includes(name)) report(partial, `partial "${name}" is not in templates/_partials`);
          if (partial.params.length > 0 || (partial.hash && partial.hash.pairs.length > 0)) report(partial, `partial "${name}" gets arguments`);
          break;
        }
        default:
          report(node, `${node.type} is not allowed in templates`);
      }
    }
  };
  walk(Handlebars.parse(source));
  return offences;
}

describe('templates print plan values only through quoting helpers', () => {
  it('finds the templates (shell scripts, partials, RUNBOOK)', () => {
    expect(SH_TEMPLATES.length).toBeGreaterThanOrEqual(13);
    expect(PARTIALS.length).toBeGreaterThanOrEqual(1);
    expect(PARTIAL_NAMES).toContain('_header');
  });

  it('the helpers allowed to print in shell are registered template helpers', () => {
    for (const h of [...SH_PRINT_HELPERS, 'md', 'eq']) expect(TEMPLATE_HELPERS).toContain(h);
  });

  it.each([...SH_TEMPLATES, ...PARTIALS].map((f) => [relative(TEMPLATES_DIR, f), f]))('%s', (_rel, file) => {
    const offences = checkTemplate(file, 'sh');
    expect(offences.map((o) => `${o.where}: ${o.what}`)).toEqual([]);
  });

  it('RUNBOOK.md.hbs prints plan text only through md (or comment)', () => {
    const runbook = ALL_TEMPLATES.filter((f) => f.endsWith('.md.hbs'));
    expect(runbook.length).toBeGreaterThanOrEqual(1);
    const offences = runbook.flatMap((f) => checkTemplate(f, 'markdown'));
    expect(offences.map((o) => `${o.where}: ${o.what}`)).toEqual([]);
  });

  it('the checker itself catches what it must (self-test on hostile template text)', () => {
    const dir = makeTempDir('pitr-tpl-');
    const bad = join(dir, 'bad.sh.hbs');
    const text = [
      'echo {{planName}}',
      'echo {{{q description}}}',
      'echo "{{q description}}"',
      "echo '{{q description}}'",
      'echo {{md description}}',
      'echo {{comment description}}',
      'cat <<EOF',
      '{{q description}}',
      'EOF',
      '{{#with runbook}}x{{/with}}',
      '{{> _nope}}',
      'x={{q planName}} # ok {{comment description}}',
    ].join('\n');
    writeFileSync(bad, text);
    const found = checkTemplate(bad, 'sh');
    const lines = found.map((o) => Number(o.where.split(':')[1]));
    expect(lines).toEqual(expect.arrayContaining([1, 2, 3, 4, 5, 6, 8, 10, 11]));
    expect(lines).not.toContain(12);
    expect(found[0]?.where).toMatch(/bad\.sh\.hbs:1:6$/);
  });
});

// ------------------------------------------------------------------ dynamic check

const TAG = randomBytes(6).toString('hex');
const PWNED = `/tmp/pwned-${TAG}`;
/** Multi-line free text: quotes, command substitution, backticks, a newline, expansion,
 *  operators (46 characters: fits the fields limited to 63, like database and table names). */
const HOSTILE_TEXT = `x'$(touch ${PWNED})"\`y\n$HOME;|&`;
/** The same on one line: every field but description and queries must be one line. */
const HOSTILE = HOSTILE_TEXT.replace('\n', ' ');
/** For one-line fields without a length limit: backticks that would run a command too. */
const HOSTILE_LONG = `${HOSTILE} \`touch ${PWNED}\` \\'; touch ${PWNED} #`;
/** For description and the verification queries, which may span lines. */
const HOSTILE_LONG_TEXT = `${HOSTILE_TEXT} \`touch ${PWNED}\`\t\\'\n; touch ${PWNED} #`;
/** A URI (RFC 3986 allows ' $ ( ) ; & = in paths and queries). */
const HOSTILE_URL = `http://localhost:8000/x'$(touch$IFS${PWNED})';&a=$HOME`;
const SECRETS = {
  SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/SENTINEL123',
  TEST_TOKEN: 'sentinel-token-456',
};

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function exampleDoc(): Doc {
  return parseYaml(readFileSync(examplePlanPath('realestateos-docker'), 'utf8')) as Doc;
}

/** docker compose, S3, systemd, time target: every free-text field hostile. */
function hostileDockerDoc(): Doc {
  const doc = exampleDoc();
  doc.description = `${HOSTILE_LONG_TEXT} ${'long '.repeat(100)}`;
  doc.postgres = {
    version: 15,
    database: HOSTILE,
    dataDir: `/srv/pg ${HOSTILE_LONG}/main`,
    configFile: `/etc/pg ${HOSTILE_LONG}/postgresql.conf`,
    osUser: 'postgres',
    port: 5432,
    host: HOSTILE_LONG,
    superuser: HOSTILE,
    binDir: `/opt/pg ${HOSTILE_LONG}/bin`,
    service: { kind: 'systemd', unit: HOSTILE_LONG },
  };
  doc.source = {
    kind: 's3',
    bucket: 'realestateos-backups',
    region: 'eu-central-1',
    endpoint: HOSTILE_URL,
    base: { prefix: `base ${HOSTILE_LONG}/`, layout: 'tarball' },
    wal: { prefix: `wal ${HOSTILE}/`, compression: 'zstd' },
    backup: 'auto',
  };
  doc.recovery = { workDir: `/srv/work ${HOSTILE_LONG}`, port: 5433, parallelism: 3 };
  doc.runtime = {
    kind: 'docker',
    compose: { command: 'docker compose', file: `/srv/app ${HOSTILE_LONG}/docker-compose.yml`, services: ['api', 'celery.worker_1-x'] },
  };
  doc.safetyBackup = { dir: `/var/backups/${HOSTILE_LONG}`, pgDump: true };
  doc.verify = {
    rowCounts: [HOSTILE, `${HOSTILE}2`],
    notAfterTarget: [{ table: HOSTILE, column: HOSTILE }],
    queries: [{ name: HOSTILE_LONG_TEXT, sql: `SELECT '${HOSTILE_LONG_TEXT}'`, expect: HOSTILE_LONG_TEXT }],
    http: [{ url: HOSTILE_URL, status: 200, bearerTokenEnv: 'TEST_TOKEN' }],
  };
  doc.notify = { slack: { webhookUrlEnv: 'SLACK_WEBHOOK_URL' } };
  return doc;
}

/** Kubernetes, local archive, pg_ctl, restore point target: the other branches. */
function hostileK8sDoc(): Doc {
  const doc = hostileDockerDoc();
  doc.name = 'hostile-k8s';
  doc.target = { restorePoint: HOSTILE, inclusive: true, timeline: 3 };
  delete doc.postgres.configFile;
  doc.postgres.service = { kind: 'pg_ctl', logFile: `/var/log/pg ${HOSTILE_LONG}.log` };
  doc.source = {
    kind: 'local',
    path: `/mnt/archive ${HOSTILE_LONG}`,
    base: { prefix: HOSTILE_LONG, layout: 'pg_basebackup' },
    wal: { prefix: '', compression: 'gzip' },
    backup: '20240115T000000-base_1:x.y',
  };
  doc.runtime = { kind: 'k8s', k8s: { context: HOSTILE_LONG, namespace: 'realestate-os', deployments: ['api', 'celery.worker-1'] } };
  doc.notify = {};
  doc.verify.http = [{ url: HOSTILE_URL }];
  return doc;
}

function validated(doc: Doc): NormalizedPlan {
  const text = JSON.stringify(doc, null, 2); // JSON is YAML: every escape is unambiguous
  const { plan, findings } = validatePlanText('hostile.yaml', text);
  expect(findings.map((f) => `${f.pointer}: ${f.message}`)).toEqual([]);
  expect(plan).toBeDefined();
  // The same text through the command's entry point gives the same plan.
  expect(loadAndValidate('hostile.yaml', text)).toEqual(plan);
  return plan as NormalizedPlan;
}

interface Compiled {
  plan: NormalizedPlan;
  files: Map<string, string>;
  dir: string;
}

function compileWithSecrets(plan: NormalizedPlan): Map<string, string> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(SECRETS)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  try {
    return compilePlan(plan, loadTemplates(TEMPLATES_DIR), compilerVersion());
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function compileAndWrite(doc: Doc): Compiled {
  const plan = validated(doc);
  const files = compileWithSecrets(plan);
  const outDir = makeTempDir('pitr-hostile-');
  writeBundle(outDir, plan.name, files, { shellcheck: false });
  return { plan, files, dir: join(outDir, plan.name) };
}

/** Sources lib/common.sh in bash and prints each named constant, NUL-separated. */
const PRINT_CONSTANTS = [
  'set -u',
  'source "$1" || exit 97',
  'shift',
  'for n in "$@"; do',
  '  decl="$(declare -p "${n}")" || exit 98',
  '  flags="${decl#declare -}"',
  '  flags="${flags%% *}"',
  '  declare -n ref="${n}"',
  '  if [[ "${flags}" == *a* ]]; then',
  '    printf \'A\\0%s\\0\' "${#ref[@]}"',
  '    if ((${#ref[@]} > 0)); then printf \'%s\\0\' "${ref[@]}"; fi',
  '  else',
  '    printf \'S\\0%s\\0\' "${ref}"',
  '  fi',
  '  [[ "${flags}" == *r* ]] || printf \'not readonly: %s\\n\' "${n}" >&2',
  '  unset -n ref',
  'done',
].join('\n');

function sourcedConstants(dir: string, names: string[]): Map<string, string | string[]> {
  const result = run('/usr/bin/bash', ['-c', PRINT_CONSTANTS, 'print-constants', join(dir, 'lib/common.sh'), ...names], {
    env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent', LC_ALL: 'C.UTF-8' },
  });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  const parts = result.stdout.split('\0');
  const values = new Map<string, string | string[]>();
  let i = 0;
  for (const name of names) {
    const kind = parts[i++];
    if (kind === 'S') values.set(name, parts[i++] ?? '');
    else {
      const count = Number(parts[i++]);
      values.set(name, parts.slice(i, i + count));
      i += count;
    }
  }
  return values;
}

function expectedConstants(plan: NormalizedPlan, files: Map<string, string>): Constant[] {
  const planJson = files.get('plan.json') ?? '';
  expect(planJson).toBe(planJsonText(plan));
  return buildModel(plan, sha256(planJson), compilerVersion()).constants;
}

function scriptsOf(c: Compiled): string[] {
  return [...c.files.keys()].filter((p) => p.endsWith('.sh'));
}

function formatFinding(f: ShellcheckFinding): string {
  return `${f.file}:${f.line}:${f.column}: SC${f.code} ${f.message}`;
}

describe('a plan with hostile text in every free-text field', () => {
  let docker: Compiled;
  let k8s: Compiled;
  let dockerFindings: ShellcheckFinding[];
  let k8sFindings: ShellcheckFinding[];

  beforeAll(() => {
    docker = compileAndWrite(hostileDockerDoc());
    k8s = compileAndWrite(hostileK8sDoc());
    // Every script of both bundles (shellcheck costs ~12 s per bundle): the k8s one has
    // other branches (kubectl, local source, pg_ctl) with the hostile values in them.
    dockerFindings = runShellcheck(docker.dir, scriptsOf(docker));
    k8sFindings = runShellcheck(k8s.dir, scriptsOf(k8s));
  }, 600_000);

  afterAll(() => {
    // (d) over the whole describe: nothing anywhere ran a hostile value
    expect(existsSync(PWNED)).toBe(false);
  });

  it('is accepted by the validator, so every hostile value is one the schema allows', () => {
    expect(docker.plan.postgres.database).toBe(HOSTILE);
    expect(docker.plan.verify.queries[0]?.sql).toBe(`SELECT '${HOSTILE_LONG_TEXT}'`);
    expect(k8s.plan.target).toMatchObject({ kind: 'restorePoint', value: HOSTILE });
    expect(scriptsOf(docker).length).toBeGreaterThanOrEqual(13);
  });

  // A plan value containing $name, ${, $(, a backtick or \' is single-quoted; shellcheck
  // must not report SC2016/SC1003 on its readonly line (the gate of `pitr compile` would
  // refuse the plan).
  it('(a) shellcheck accepts every generated script of both bundles', () => {
    expect(scriptsOf(k8s).length).toBeGreaterThanOrEqual(13);
    expect(dockerFindings.map(formatFinding)).toEqual([]);
    expect(k8sFindings.map(formatFinding)).toEqual([]);
  });

  it('(b) bash -n accepts every script', () => {
    for (const c of [docker, k8s]) {
      for (const script of scriptsOf(c)) {
        const result = run('/usr/bin/bash', ['-n', join(c.dir, script)]);
        expect({ script, stderr: result.stderr, status: result.status }).toEqual({ script, stderr: '', status: 0 });
      }
    }
  });

  it('(c) sourcing lib/common.sh gives back every constant of the model exactly, readonly', () => {
    for (const c of [docker, k8s]) {
      const constants = expectedConstants(c.plan, c.files);
      expect(constants.length).toBeGreaterThan(50);
      const got = sourcedConstants(c.dir, constants.map((k) => k.name));
      for (const k of constants) {
        expect({ name: k.name, value: got.get(k.name) }).toEqual({ name: k.name, value: k.values ?? k.value });
      }
    }
    expect(existsSync(PWNED)).toBe(false);
  });

  it('(e) no file contains a secret from the environment of the compiler', () => {
    for (const c of [docker, k8s]) {
      for (const [path, text] of c.files) {
        for (const secret of Object.values(SECRETS)) expect({ path, leaks: text.includes(secret) }).toEqual({ path, leaks: false });
      }
    }
    // the scripts get the names of the variables, and read the values at run time
    expect(docker.files.get('lib/constants.sh')).toContain("readonly -a HTTP_TOKEN_ENVS=('TEST_TOKEN')");
    expect(docker.files.get('lib/constants.sh')).toContain("readonly SLACK_WEBHOOK_ENV='SLACK_WEBHOOK_URL'");
  });

  it('constants hold the plan values themselves (not only what the model says)', () => {
    const names = ['PG_DATABASE', 'PG_DATA_DIR', 'PG_CONFIG_FILE', 'PG_HOST', 'PG_SUPERUSER', 'PG_BIN_DIR', 'SERVICE_UNIT', 'S3_ENDPOINT',
      'BASE_PREFIX', 'WAL_PREFIX', 'WORK_DIR', 'SIDE_DATA_DIR', 'COMPOSE_FILE', 'COMPOSE_SERVICES', 'COMPOSE_CMD', 'SAFETY_DIR', 'VERIFY_TABLES',
      'NOT_AFTER_TABLES', 'NOT_AFTER_COLUMNS', 'QUERY_NAMES', 'QUERY_SQL', 'QUERY_EXPECT', 'HTTP_URLS', 'HTTP_TOKEN_ENVS', 'SLACK_WEBHOOK_ENV', 'TARGET_VALUE'];
    const got = sourcedConstants(docker.dir, names);
    const p = docker.plan;
    expect(Object.fromEntries(got)).toEqual({
      PG_DATABASE: HOSTILE,
      PG_DATA_DIR: `/srv/pg ${HOSTILE_LONG}/main`,
      PG_CONFIG_FILE: `/etc/pg ${HOSTILE_LONG}/postgresql.conf`,
      PG_HOST: HOSTILE_LONG,
      PG_SUPERUSER: HOSTILE,
      PG_BIN_DIR: `/opt/pg ${HOSTILE_LONG}/bin`,
      SERVICE_UNIT: HOSTILE_LONG,
      S3_ENDPOINT: HOSTILE_URL,
      BASE_PREFIX: `base ${HOSTILE_LONG}/`,
      WAL_PREFIX: `wal ${HOSTILE}/`,
      WORK_DIR: `/srv/work ${HOSTILE_LONG}`,
      SIDE_DATA_DIR: `/srv/work ${HOSTILE_LONG}/data`,
      COMPOSE_FILE: `/srv/app ${HOSTILE_LONG}/docker-compose.yml`,
      COMPOSE_SERVICES: ['api', 'celery.worker_1-x'],
      COMPOSE_CMD: ['docker', 'compose'],
      SAFETY_DIR: `/var/backups/${HOSTILE_LONG}`,
      VERIFY_TABLES: [HOSTILE, `${HOSTILE}2`],
      NOT_AFTER_TABLES: [HOSTILE],
      NOT_AFTER_COLUMNS: [HOSTILE],
      QUERY_NAMES: [HOSTILE_LONG_TEXT],
      QUERY_SQL: [`SELECT '${HOSTILE_LONG_TEXT}'`],
      QUERY_EXPECT: [HOSTILE_LONG_TEXT],
      HTTP_URLS: [HOSTILE_URL],
      HTTP_TOKEN_ENVS: ['TEST_TOKEN'],
      SLACK_WEBHOOK_ENV: 'SLACK_WEBHOOK_URL',
      TARGET_VALUE: p.target.value,
    });
    const k = sourcedConstants(k8s.dir, ['K8S_CONTEXT', 'K8S_NAMESPACE', 'K8S_DEPLOYMENTS', 'ARCHIVE_PATH', 'SERVICE_LOG_FILE', 'TARGET_KIND', 'TARGET_VALUE', 'TARGET_TIMELINE', 'BACKUP_CHOICE']);
    expect(Object.fromEntries(k)).toEqual({
      K8S_CONTEXT: HOSTILE_LONG,
      K8S_NAMESPACE: 'realestate-os',
      K8S_DEPLOYMENTS: ['api', 'celery.worker-1'],
      ARCHIVE_PATH: `/mnt/archive ${HOSTILE_LONG}`,
      SERVICE_LOG_FILE: `/var/log/pg ${HOSTILE_LONG}.log`,
      TARGET_KIND: 'restorePoint',
      TARGET_VALUE: HOSTILE,
      TARGET_TIMELINE: '3',
      BACKUP_CHOICE: '20240115T000000-base_1:x.y',
    });
  });

  it('the scripts answer --help without running anything, printing the values verbatim', () => {
    for (const c of [docker, k8s]) {
      const scripts = ['run.sh', 'drill.sh', 'rollback.sh', ...[...c.files.keys()].filter((p) => p.startsWith('phases/'))];
      for (const script of scripts) {
        const result = run('/usr/bin/bash', [join(c.dir, script), '--help'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' } });
        expect({ script, status: result.status, stderr: result.stderr }).toEqual({ script, status: 0, stderr: '' });
      }
      const usage = run('/usr/bin/bash', [join(c.dir, 'run.sh'), '--help']);
      expect(usage.stdout).toContain(`Recovers ${HOSTILE} to ${c.plan.target.kind} ${c.plan.target.value} (plan ${c.plan.name}).`);
      expect(existsSync(join(c.dir, 'state'))).toBe(false);
    }
    expect(existsSync(PWNED)).toBe(false);
  });

  it('the header comment keeps the description (newlines, tabs) on one line', () => {
    const run0 = docker.files.get('run.sh') ?? '';
    const header = run0.split('\n').find((l) => l.startsWith('# Plan: '));
    // eslint-disable-next-line no-control-regex
    expect(header).toBe(`# Plan: ${docker.plan.name} — ${docker.plan.description.replace(/[\u0000-\u001f\u007f]+/g, ' ')}`);
  });

  it('RUNBOOK.md table rows keep their cells (| and newlines in values are neutralised)', () => {
    for (const c of [docker, k8s]) {
      const runbook = c.files.get('RUNBOOK.md') ?? '';
      const rows = runbook.split('\n').filter((l) => l.startsWith('| '));
      expect(rows.length).toBeGreaterThan(5);
      // Every row has as many cells as the header of its table (the row that follows a
      // non-table line): a | or newline in a value would add cells or break the row.
      // A code span opens with a run of backticks and closes at the next run as long.
      const cellsOf = (row: string) => row.replace(/\\\|/g, '').replace(/(`+)(?!`)[\s\S]*?[^`]\1(?!`)/g, 'code').split('|').length - 2;
      const lines = runbook.split('\n');
      lines.forEach((row, i) => {
        if (!row.startsWith('| ')) return;
        let header = i;
        while (header > 0 && lines[header - 1]!.startsWith('|')) header -= 1;
        expect({ row, cells: cellsOf(row) }).toEqual({ row, cells: cellsOf(lines[header]!) });
      });
      // a raw newline or tab never reaches the markdown
      expect(runbook.includes(HOSTILE_TEXT) || runbook.includes(HOSTILE_LONG_TEXT)).toBe(false);
    }
  });
});

/**
 * A newline in recovery.workDir, postgres.configFile or target.restorePoint reaches
 * postgresql.conf through confQuote, which throws. Such a plan must be refused by the
 * validator with a finding (FILE:LINE:COL), not crash the compiler with a stack trace.
 * (At commit e3d5da0 the validator let these through; the valuesAreRepresentable rule in
 * src/plan/semantic-rules.ts is what makes this pass.)
 */
describe('values the compiler cannot put into postgresql.conf', () => {
  const cases: [string, string, (doc: Doc) => void][] = [
    ['recovery.workDir', '/recovery/workDir', (doc) => { doc.recovery.workDir = '/srv/work\nx'; }],
    ['postgres.configFile', '/postgres/configFile', (doc) => { doc.postgres.configFile = '/etc/pg\nx/postgresql.conf'; }],
    ['target.restorePoint', '/target/restorePoint', (doc) => { doc.target = { restorePoint: 'before\nimport' }; doc.source.backup = 'base-1'; }],
  ];
  it.each(cases)('a newline in %s is a validation finding at %s, not a compiler crash', (_field, pointer, change) => {
    const doc = exampleDoc();
    change(doc);
    const text = JSON.stringify(doc, null, 2);
    const { plan, findings } = validatePlanText('plan.yaml', text);
    // Refused, with a finding that points at the field, on the line that holds it.
    expect(plan).toBeUndefined();
    expect(findings.map((f) => f.pointer)).toEqual([pointer]);
    const key = pointer.split('/').at(-1) as string;
    expect(text.split('\n')[findings[0]!.line - 1]).toContain(`"${key}"`);
    expect(findings[0]!.message).toMatch(/newline|line break|one line/i);
  });
});

/**
 * As "(a) shellcheck accepts every generated script", with an ordinary plan: JSON keys
 * like $type, dollar-quoted SQL and E'' strings contain $name or \'. The value is quoted,
 * and shellcheck's SC2016/SC1003 must not make `pitr compile` refuse the plan.
 */
describe('ordinary SQL with $ or \\\' in a verification query', () => {
  const queries = [
    ['a JSON key starting with $', "SELECT count(*) FROM events WHERE payload->>'$type' = 'deleted'"],
    ['dollar quoting', 'SELECT $body$it is fine$body$'],
    ["an E'' string", "SELECT count(*) FROM notes WHERE body = E'it\\'s'"],
  ];
  it.each(queries)('%s passes the shellcheck gate', (_label, sql) => {
    const doc = exampleDoc();
    doc.verify.queries = [{ name: 'q', sql, expect: '0' }];
    const plan = validated(doc);
    const dir = makeTempDir('pitr-sql-');
    writeBundle(dir, plan.name, compilePlan(plan, loadTemplates(TEMPLATES_DIR), compilerVersion()), { shellcheck: false });
    expect(runShellcheck(join(dir, plan.name), ['lib/common.sh']).map(formatFinding)).toEqual([]);
  }, 30_000);
});

/**
 * md() makes a markdown code span. CommonMark closes a code span at the next backtick run
 * of exactly the opening length, so the fence must be longer than every run inside.
 */
describe('RUNBOOK.md code spans', () => {
  /** The content of the code span that makes up all of TEXT, or null when it is not one span. */
  function wholeCodeSpan(text: string): string | null {
    const open = /^`+/.exec(text)?.[0] ?? '';
    if (open === '') return null;
    const rest = text.slice(open.length);
    const runs = [...rest.matchAll(/`+/g)];
    const close = runs.find((r) => r[0].length === open.length);
    if (!close || close.index + open.length !== rest.length) return null;
    const inner = rest.slice(0, close.index);
    return /^ .* $/s.test(inner) && inner.trim() !== '' ? inner.slice(1, -1) : inner;
  }

  // The fence is one longer than the longest backtick run in the text, so a value with a
  // run of two backticks cannot end the code span early.
  it('a verification name with `` stays one code span in RUNBOOK.md', () => {
    const doc = exampleDoc();
    doc.verify.queries = [{ name: 'no ``rows`` *after* [link](http://x)', sql: 'SELECT 0', expect: '0' }];
    const files = compilePlan(validated(doc), loadTemplates(TEMPLATES_DIR), compilerVersion());
    const line = (files.get('RUNBOOK.md') ?? '').split('\n').find((l) => l.startsWith('- ') && l.includes('``rows``'));
    expect(line).toBeDefined();
    expect(wholeCodeSpan((line as string).slice(2))).toBe('no ``rows`` *after* [link](http://x): expects "0"');
  });

  it('a single backtick in a value stays inside the code span', () => {
    const doc = exampleDoc();
    doc.verify.queries = [{ name: 'the `users` table', sql: 'SELECT 0', expect: '0' }];
    const files = compilePlan(validated(doc), loadTemplates(TEMPLATES_DIR), compilerVersion());
    const line = (files.get('RUNBOOK.md') ?? '').split('\n').find((l) => l.startsWith('- ') && l.includes('users` table'));
    expect(wholeCodeSpan((line as string).slice(2))).toBe('the `users` table: expects "0"');
  });
});
