import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../src/plan/findings.js';
import { PATTERN_WORDS, closestName } from '../../src/plan/schema-errors.js';
import { validatePlanText } from '../../src/plan/validate.js';

const BASE = `version: 1
name: unit
target:
  time: "2024-01-15T14:30:00+00:00"
postgres:
  version: 15
  database: app
  dataDir: /var/lib/postgresql/15/main
  service: { kind: systemd, unit: postgresql@15-main }
source:
  kind: s3
  bucket: app-backups
recovery:
  workDir: /var/lib/postgresql/recovery
`;

/** BASE with some lines replaced (each pair must match once) and more appended. */
function planWith(replacements: [string, string][], appended = ''): string {
  let text = BASE;
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`fixture text not found: ${from}`);
    text = text.replace(from, to);
  }
  return text + appended;
}

function findingsOf(text: string): Finding[] {
  return validatePlanText('p.yaml', text).findings;
}

function only(text: string): Finding {
  const findings = findingsOf(text);
  expect(findings).toHaveLength(1);
  return findings[0] as Finding;
}

describe('valid plans', () => {
  it.each(['plans/realestateos-docker.yaml', 'plans/realestateos-k8s.yaml'])('%s validates clean', (file) => {
    const text = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
    const result = validatePlanText(file, text);
    expect(result.findings).toEqual([]);
    expect(result.plan?.name).toBe(file.replace(/^plans\/|\.yaml$/g, ''));
  });

  it('accepts the base plan of these tests', () => {
    expect(findingsOf(BASE)).toEqual([]);
  });
});

describe('positions (checked by hand against the text)', () => {
  it('a bad value points at the value', () => {
    expect(only(planWith([['  database: app\n', '  database: app\n  port: 99999\n']]))).toMatchObject({
      line: 8,
      column: 9,
      pointer: '/postgres/port',
    });
  });

  it('an unknown field points at its key, a missing one at the parent key', () => {
    const findings = findingsOf(planWith([['  workDir: /var/lib/postgresql/recovery\n', '  workdir: /x\n']]));
    expect(findings.map(({ line, column, pointer }) => ({ line, column, pointer }))).toEqual([
      { line: 13, column: 1, pointer: '/recovery' },
      { line: 14, column: 3, pointer: '/recovery/workdir' },
    ]);
    expect(findings[1]?.message).toContain('unknown field "workdir" under /recovery (did you mean "workDir"?)');
  });

  it('a flow-mapping value deep in a line', () => {
    expect(only(planWith([['{ kind: systemd, unit', '{ kind: systemd, unit: x, colour']]))).toMatchObject({
      line: 9,
      column: 38,
      pointer: '/postgres/service/colour',
    });
  });

  it('a semantic rule on a time target points at the time value', () => {
    expect(only(planWith([['"2024-01-15T14:30:00+00:00"', '"2024-03-31 02:30:00 Europe/Berlin"']]))).toMatchObject({
      line: 4,
      column: 9,
      message: expect.stringContaining('does not exist'),
    });
  });

  it('findings come out in source order', () => {
    const findings = findingsOf(planWith([['version: 1', 'version: 3'], ['name: unit', 'name: UNIT']], 'extra: 1\n'));
    expect(findings.map((f) => f.line)).toEqual([1, 2, 15]);
  });
});

describe('schema errors, re-worded', () => {
  it('says what an integer must be, once, even when type and minimum both fail', () => {
    expect(only(planWith([['  time: "2024-01-15T14:30:00+00:00"', '  xid: 2.5']])).message).toBe(
      '"xid" must be an integer of at least 3, got the number 2.5',
    );
  });

  it('lists the choices of an anyOf field in one message', () => {
    expect(only(planWith([['target:\n', 'target:\n  timeline: newest\n']])).message).toBe(
      '"timeline" must be one of latest, current or an integer of at least 1, got the string "newest"',
    );
  });

  it('tells to quote a number where a string is expected', () => {
    const text = planWith([], 'verify:\n  queries:\n    - { name: n, sql: SELECT 0, expect: 0 }\n');
    expect(only(text).message).toBe('"expect" must be a string, got the number 0; put it in quotes: "0"');
  });

  it('names list items by index', () => {
    const text = planWith([], 'runtime:\n  kind: k8s\n  k8s: { context: c, namespace: n, deployments: [Api] }\n');
    expect(only(text)).toMatchObject({
      pointer: '/runtime/k8s/deployments/0',
      message: expect.stringMatching(/^"deployments\[0\]" must be a Kubernetes name/),
    });
  });

  it('has plain words for every pattern in the schema', () => {
    const schemaText = readFileSync(new URL('../../schema/plan.schema.json', import.meta.url), 'utf8');
    const patterns = [...schemaText.matchAll(/"pattern": ("(?:[^"\\]|\\.)*")/g)].map((m) => JSON.parse(m[1] ?? '""') as string);
    expect(patterns.length).toBeGreaterThan(10);
    expect(patterns.filter((pattern) => !(pattern in PATTERN_WORDS))).toEqual([]);
  });

  it('suggests close names only', () => {
    expect(closestName('tagret', ['target', 'name'])).toBe('target');
    expect(closestName('datadir', ['dataDir', 'database'])).toBe('dataDir');
    expect(closestName('colour', ['kind', 'unit', 'cluster', 'logFile'])).toBeNull();
  });
});

describe('semantic rules', () => {
  it('source kind local: needs path, forbids bucket, region and endpoint', () => {
    const findings = findingsOf(
      planWith([['  kind: s3\n', '  kind: local\n  region: eu-west-1\n  endpoint: https://s3.example.com\n']]),
    );
    expect(findings.map((f) => [f.pointer, f.message])).toEqual([
      ['/source', 'source kind local needs "path": the directory holding the base backups and the WAL archive'],
      ['/source/region', '"region" does not apply to source kind local; remove it (it is for kind s3)'],
      ['/source/endpoint', '"endpoint" does not apply to source kind local; remove it (it is for kind s3)'],
      ['/source/bucket', '"bucket" does not apply to source kind local; remove it (it is for kind s3)'],
    ]);
  });

  it('service kinds: systemd needs unit, pg_ctl takes neither unit nor cluster', () => {
    expect(only(planWith([['{ kind: systemd, unit: postgresql@15-main }', '{ kind: systemd }']])).message).toBe(
      'service kind systemd needs "unit", e.g. unit: postgresql@15-main',
    );
    expect(only(planWith([['{ kind: systemd, unit', '{ kind: pg_ctl, unit']]))).toMatchObject({
      pointer: '/postgres/service/unit',
      column: 28,
    });
  });

  it('runtime kinds: k8s needs its block, none takes no blocks', () => {
    expect(only(planWith([], 'runtime: { kind: k8s }\n')).message).toContain('runtime kind k8s needs a "k8s" block');
    expect(only(planWith([], 'runtime:\n  kind: none\n  compose: { file: /c.yml, services: [api] }\n'))).toMatchObject({
      pointer: '/runtime/compose',
      message: '"compose" does not apply to runtime kind none; remove it (it is for kind docker)',
    });
  });

  it('workDir equal to dataDir, or dataDir inside workDir', () => {
    const equal = only(planWith([['  workDir: /var/lib/postgresql/recovery', '  workDir: /var/lib/postgresql/15/main/']]));
    expect(equal.message).toContain('recovery.workDir is postgres.dataDir');
    const around = only(planWith([['  workDir: /var/lib/postgresql/recovery', '  workDir: /var/lib/postgresql']]));
    expect(around.message).toContain('postgres.dataDir /var/lib/postgresql/15/main is inside recovery.workDir');
  });

  it('does not mistake a name prefix for nesting', () => {
    expect(findingsOf(planWith([['  workDir: /var/lib/postgresql/recovery', '  workDir: /var/lib/postgresql/15/main-recovery']]))).toEqual([]);
  });

  it('safetyBackup.dir inside workDir, and the default inside dataDir', () => {
    expect(only(planWith([], 'safetyBackup: { dir: /var/lib/postgresql/recovery/dump }\n'))).toMatchObject({
      pointer: '/safetyBackup/dir',
      message: expect.stringContaining('is inside recovery.workDir'),
    });
    expect(only(planWith([['  dataDir: /var/lib/postgresql/15/main', '  dataDir: /var/backups']]))).toMatchObject({
      pointer: '/postgres/dataDir',
      message: expect.stringContaining('safetyBackup.dir /var/backups/postgresql (the default) is inside postgres.dataDir'),
    });
  });

  it('ports collide with defaults too', () => {
    expect(only(planWith([], '  port: 5432\n'))).toMatchObject({ pointer: '/recovery/port', line: 15 });
  });

  it('backup auto with a restore point: points at source when backup is left to its default', () => {
    expect(only(planWith([['  time: "2024-01-15T14:30:00+00:00"', '  restorePoint: before-import']]))).toMatchObject({
      pointer: '/source',
      line: 10,
      column: 1,
      message: expect.stringContaining('cannot be worked out for a restorePoint target'),
    });
    const explicit = planWith([
      ['  time: "2024-01-15T14:30:00+00:00"', '  restorePoint: before-import'],
      ['  bucket: app-backups\n', '  bucket: app-backups\n  backup: base_20240115T000000\n'],
    ]);
    expect(findingsOf(explicit)).toEqual([]);
  });

  it('table and column names may hold quotes and spaces but not NUL', () => {
    const text = planWith(
      [],
      'verify:\n  rowCounts: [\'my "odd" $table\', "bad\\0name"]\n  notAfterTarget:\n    - { table: t, column: "c\\0" }\n',
    );
    expect(findingsOf(text).map((f) => f.pointer)).toEqual(['/verify/rowCounts/1', '/verify/notAfterTarget/0/column']);
  });

  it('runs only when the schema passed', () => {
    const text = planWith([['  time: "2024-01-15T14:30:00+00:00"', '  time: "2024-01-15 14:30"'], ['version: 1', 'version: 9']]);
    expect(findingsOf(text).map((f) => f.pointer)).toEqual(['/version']);
  });
});

describe('secrets', () => {
  it('finds an AWS key id anywhere, with AWS advice under source', () => {
    const text = planWith([['  bucket: app-backups\n', '  bucket: app-backups\n  endpoint: https://AKIAIOSFODNN7EXAMPLE:pw@minio.local\n']]);
    expect(only(text)).toMatchObject({
      pointer: '/source/endpoint',
      message: expect.stringContaining('the aws CLI reads credentials from its environment'),
    });
    expect(only(planWith([['name: unit\n', 'name: unit\ndescription: key AKIAIOSFODNN7EXAMPLE\n']])).message).toContain(
      'an AWS access key id',
    );
  });

  it('finds a webhook URL in a description, with generic advice', () => {
    const text = planWith([['name: unit\n', 'name: unit\ndescription: "ping https://hooks.slack.com/services/T/B/X"\n']]);
    expect(only(text).message).toBe(
      'this looks like a Slack webhook URL, a secret; put it in an environment variable and name the variable (notify.slack.webhookUrlEnv, verify.http[].bearerTokenEnv)',
    );
  });

  it('reports the secret instead of the schema error about the same value', () => {
    const text = planWith([], 'notify:\n  slack: { webhookUrlEnv: "https://hooks.slack.com/services/T/B/X" }\n');
    expect(only(text).message).toContain('Slack webhook URL');
  });

  it('does not flag prose or plain URLs', () => {
    const text = planWith(
      [['name: unit\n', 'name: unit\ndescription: Bearer token from TEST_TOKEN; see https://user@example.com/x and http://localhost:8000\n']],
      'verify:\n  http:\n    - { url: "http://localhost:8000/health?x=a:b@c", bearerTokenEnv: TOKEN }\n',
    );
    expect(findingsOf(text)).toEqual([]);
  });
});
