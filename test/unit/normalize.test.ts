import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InternalError } from '../../src/plan/findings.js';
import { normalizePlan } from '../../src/plan/normalize.js';
import type { NormalizedPlan } from '../../src/plan/normalized.js';
import type { PitrPlan } from '../../src/plan/types.generated.js';
import { validatePlanText } from '../../src/plan/validate.js';

function validPlan(file: string, text: string): NormalizedPlan {
  const { plan, findings } = validatePlanText(file, text);
  expect(findings).toEqual([]);
  if (!plan) throw new Error('no plan');
  return plan;
}

function examplePlan(name: string): NormalizedPlan {
  const file = `plans/${name}.yaml`;
  return validPlan(file, readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'));
}

const ORPHANS_SQL =
  'SELECT count(*) FROM communications c WHERE NOT EXISTS (SELECT 1 FROM properties p WHERE p.id = c.property_id)';

/** Written in NormalizedPlan key order: compared as JSON text, so key order is checked too. */
const DOCKER_EXPECTED: NormalizedPlan = {
  version: 1,
  name: 'realestateos-docker',
  description: 'Revert the bad property import of 2024-01-15 14:31 UTC',
  target: {
    kind: 'time',
    value: '2024-01-15T14:30:00+00:00',
    written: '2024-01-15T14:30:00+00:00',
    inclusive: false,
    timeline: 'latest',
  },
  postgres: {
    version: 13,
    database: 'realestateos',
    dataDir: '/var/lib/postgresql/13/main',
    configFile: '/etc/postgresql/13/main/postgresql.conf',
    osUser: 'postgres',
    port: 5432,
    host: '/var/run/postgresql',
    superuser: 'postgres',
    binDir: '/usr/lib/postgresql/13/bin',
    service: { kind: 'systemd', unit: 'postgresql@13-main' },
  },
  source: {
    kind: 's3',
    bucket: 'realestateos-backups',
    region: 'us-east-1',
    endpoint: null,
    path: null,
    base: { prefix: 'base/', layout: 'tarball' },
    wal: { prefix: 'wal/', compression: 'none' },
    backup: 'auto',
  },
  recovery: {
    workDir: '/var/lib/postgresql/recovery',
    port: 5433,
    parallelism: 8,
    drainTimeoutSeconds: 120,
    startTimeoutSeconds: 300,
    stallTimeoutSeconds: 600,
  },
  runtime: {
    kind: 'docker',
    compose: {
      command: ['docker', 'compose'],
      file: '/srv/realestateos/docker-compose.yml',
      services: ['api', 'celery', 'frontend'],
    },
  },
  safetyBackup: { dir: '/var/backups/postgresql', pgDump: true },
  verify: {
    rowCounts: ['properties', 'communications', 'users'],
    notAfterTarget: [
      { table: 'property_timeline', column: 'created_at' },
      { table: 'communications', column: 'created_at' },
    ],
    queries: [{ name: 'no orphaned communications', sql: ORPHANS_SQL, expect: '0' }],
    http: [{ url: 'http://localhost:8000/api/v1/health', status: 200, bearerTokenEnv: 'TEST_TOKEN' }],
  },
  notify: { slack: { webhookUrlEnv: 'SLACK_WEBHOOK_URL' } },
};

const K8S_EXPECTED: NormalizedPlan = {
  version: 1,
  name: 'realestateos-k8s',
  description: 'Revert the bad property import of 2024-01-15 14:31 UTC (Kubernetes deployment)',
  target: {
    kind: 'time',
    value: '2024-01-15T14:30:00+00:00',
    written: '2024-01-15T15:30:00+01:00',
    inclusive: false,
    timeline: 'latest',
  },
  postgres: {
    version: 15,
    database: 'realestateos',
    dataDir: '/var/lib/postgresql/15/main',
    configFile: '/etc/postgresql/15/main/postgresql.conf',
    osUser: 'postgres',
    port: 5432,
    host: '/var/run/postgresql',
    superuser: 'postgres',
    binDir: '/usr/lib/postgresql/15/bin',
    service: { kind: 'pg_ctlcluster', cluster: '15/main' },
  },
  source: {
    kind: 's3',
    bucket: 'realestateos-backups',
    region: 'eu-central-1',
    endpoint: 'https://minio.internal:9000',
    path: null,
    base: { prefix: 'base/', layout: 'pg_basebackup' },
    wal: { prefix: 'wal/', compression: 'gzip' },
    backup: 'auto',
  },
  recovery: {
    workDir: '/var/lib/postgresql/recovery',
    port: 5433,
    parallelism: 8,
    drainTimeoutSeconds: 120,
    startTimeoutSeconds: 300,
    stallTimeoutSeconds: 600,
  },
  runtime: {
    kind: 'k8s',
    k8s: { context: 'prod', namespace: 'realestateos', deployments: ['api', 'celery-worker'] },
  },
  safetyBackup: { dir: '/var/backups/postgresql', pgDump: true },
  verify: {
    rowCounts: ['properties', 'communications', 'users'],
    notAfterTarget: [{ table: 'property_timeline', column: 'created_at' }],
    queries: [{ name: 'no orphaned communications', sql: ORPHANS_SQL, expect: '0' }],
    http: [],
  },
  notify: { slack: { webhookUrlEnv: 'SLACK_WEBHOOK_URL' } },
};

describe('example plans', () => {
  it('realestateos-docker normalizes to the expected plan, keys in order', () => {
    expect(JSON.stringify(examplePlan('realestateos-docker'), null, 2)).toBe(JSON.stringify(DOCKER_EXPECTED, null, 2));
  });

  it('realestateos-k8s normalizes to the expected plan, keys in order (+01:00 → UTC)', () => {
    expect(JSON.stringify(examplePlan('realestateos-k8s'), null, 2)).toBe(JSON.stringify(K8S_EXPECTED, null, 2));
  });

  it('gives byte-identical output run to run', () => {
    expect(JSON.stringify(examplePlan('realestateos-k8s'))).toBe(JSON.stringify(examplePlan('realestateos-k8s')));
  });
});

const MINIMAL = `
version: 1
name: minimal
target: { lsn: 0/3000a60 }
postgres:
  version: 16
  database: app
  dataDir: /srv/pg/data/
  service: { kind: pg_ctl }
source:
  kind: local
  path: /mnt/backups/
  base: { prefix: basebackups }
  wal: { prefix: "" }
recovery:
  workDir: /srv/pg/recovery//
verify:
  http:
    - url: http://localhost/health
`;

describe('defaults', () => {
  const plan = validPlan('minimal.yaml', MINIMAL);

  it('fills every optional field', () => {
    expect(plan.description).toBe('');
    expect(plan.target).toEqual({ kind: 'lsn', value: '0/3000A60', written: null, inclusive: false, timeline: 'latest' });
    expect(plan.postgres).toMatchObject({
      configFile: null,
      osUser: 'postgres',
      port: 5432,
      host: '/var/run/postgresql',
      superuser: 'postgres',
      binDir: '/usr/lib/postgresql/16/bin',
      service: { kind: 'pg_ctl', logFile: null },
    });
    expect(plan.recovery).toEqual({
      workDir: '/srv/pg/recovery',
      port: 5433,
      parallelism: 4,
      drainTimeoutSeconds: 120,
      startTimeoutSeconds: 300,
      stallTimeoutSeconds: 600,
    });
    expect(plan.runtime).toEqual({ kind: 'none' });
    expect(plan.safetyBackup).toEqual({ dir: '/var/backups/postgresql', pgDump: true });
    expect(plan.verify).toEqual({
      rowCounts: [],
      notAfterTarget: [],
      queries: [],
      http: [{ url: 'http://localhost/health', status: 200, bearerTokenEnv: null }],
    });
    expect(plan.notify).toEqual({ slack: null });
  });

  it('gives a local source no S3 fields, and prefixes a trailing slash unless empty', () => {
    expect(plan.source).toEqual({
      kind: 'local',
      bucket: null,
      region: null,
      endpoint: null,
      path: '/mnt/backups',
      base: { prefix: 'basebackups/', layout: 'tarball' },
      wal: { prefix: '', compression: 'none' },
      backup: 'auto',
    });
  });

  it('drops trailing slashes from directories (dataDir.pre-pitr-<id> must be a sibling)', () => {
    expect(plan.postgres.dataDir).toBe('/srv/pg/data');
  });

  it('defaults an s3 region to us-east-1', () => {
    const text = MINIMAL.replace('  kind: local\n  path: /mnt/backups/\n', '  kind: s3\n  bucket: my-bucket\n');
    expect(validPlan('s3.yaml', text).source).toMatchObject({ kind: 's3', bucket: 'my-bucket', region: 'us-east-1', path: null });
  });

  it('splits the compose command into words', () => {
    const text = `${MINIMAL}runtime:\n  kind: docker\n  compose: { command: /usr/local/bin/docker-compose --ansi never, file: /srv/c.yml, services: [api] }\n`;
    expect(validPlan('c.yaml', text).runtime).toEqual({
      kind: 'docker',
      compose: { command: ['/usr/local/bin/docker-compose', '--ansi', 'never'], file: '/srv/c.yml', services: ['api'] },
    });
  });
});

describe('target kinds', () => {
  const withTarget = (target: string): NormalizedPlan['target'] =>
    validPlan('t.yaml', MINIMAL.replace('target: { lsn: 0/3000a60 }', `target: ${target}`).replace('  base:', '  backup: base-2024-01-15\n  base:')).target;

  it('xid as decimal digits, a numeric timeline as a string', () => {
    expect(withTarget('{ xid: 1234567, timeline: 2, inclusive: true }')).toEqual({
      kind: 'xid',
      value: '1234567',
      written: null,
      inclusive: true,
      timeline: '2',
    });
  });

  it('restorePoint by name, immediate with an empty value', () => {
    expect(withTarget('{ restorePoint: before-import }')).toMatchObject({ kind: 'restorePoint', value: 'before-import' });
    expect(withTarget('{ immediate: true, timeline: current }')).toMatchObject({
      kind: 'immediate',
      value: '',
      timeline: 'current',
    });
  });

  it('time as canonical UTC, keeping what was written', () => {
    expect(withTarget('{ time: "2024-01-15 23:30:00.25 Asia/Tokyo" }')).toMatchObject({
      kind: 'time',
      value: '2024-01-15T14:30:00.250000+00:00',
      written: '2024-01-15 23:30:00.25 Asia/Tokyo',
    });
  });
});

describe('normalizePlan on unvalidated input', () => {
  it('raises InternalError instead of guessing', () => {
    const raw = {
      version: 1,
      name: 'x',
      target: {},
      postgres: { version: 15, database: 'd', dataDir: '/d', service: { kind: 'pg_ctl' } },
      source: { kind: 'local', path: '/b' },
      recovery: { workDir: '/w' },
    } as PitrPlan;
    expect(() => normalizePlan(raw)).toThrow(InternalError);
  });
});
