import { describe, expect, it } from 'vitest';
import { evaluateChecks, type ServerFacts } from '../../src/inspect/checks.js';
import { passwordFromPgpass } from '../../src/inspect/pgpass.js';
import type { NormalizedPlan } from '../../src/plan/normalized.js';

const PLAN = {
  postgres: { version: 15, dataDir: '/var/lib/postgresql/15/main', configFile: null, database: 'app' },
  target: { kind: 'time', value: '2024-01-15T14:30:00+00:00', written: '', inclusive: false, timeline: 'latest' },
  verify: { rowCounts: ['accounts', 'events'], notAfterTarget: [{ table: 'events', column: 'created_at' }], queries: [], http: [] },
} as unknown as NormalizedPlan;

const FACTS: ServerFacts = {
  serverVersion: '15.8',
  serverVersionNum: 150008,
  dataDirectory: '/var/lib/postgresql/15/main',
  dataDirectoryReal: null,
  planDataDirReal: null,
  configFile: '/var/lib/postgresql/15/main/postgresql.conf',
  timezone: 'Asia/Tokyo',
  logTimezone: 'Asia/Tokyo',
  logTimezoneAbbreviation: 'JST',
  walSegmentSizeBytes: 16777216,
  hotStandby: 'on',
  archiveMode: 'on',
  archiveCommand: 'cp %p /archive/%f',
  archiveLibrary: '',
  archiver: {
    archivedCount: 10, lastArchivedWal: '00000001000000000000000A', lastArchivedTime: '2024-01-15T15:00:00.000Z',
    failedCount: 0, lastFailedWal: null, lastFailedTime: null,
  },
  tables: { accounts: true, events: true },
  columns: [{ table: 'events', column: 'created_at', type: 'timestamp with time zone' }],
};

const statuses = (facts: Partial<ServerFacts>, plan = PLAN) =>
  Object.fromEntries(evaluateChecks(plan, { ...FACTS, ...facts }).map((c) => [c.check, c.status]));

describe('inspect checks', () => {
  it('a server that matches the plan', () => {
    expect(statuses({})).toEqual({
      'server version': 'pass',
      data_directory: 'pass',
      timezone: 'info',
      wal_segment_size: 'info',
      hot_standby: 'info',
      archive_mode: 'pass',
      archive_command: 'pass',
      archiver: 'pass',
      'archive vs target': 'pass',
      'table accounts': 'pass',
      'table events': 'pass',
      'column events.created_at': 'pass',
    });
  });

  it('mismatches fail, each on its own check', () => {
    const s = statuses({
      serverVersionNum: 160002,
      dataDirectory: '/srv/pg',
      archiveMode: 'off',
      archiveCommand: '',
      tables: { accounts: false, events: true },
      columns: [{ table: 'events', column: 'created_at', type: null }],
    });
    expect(Object.entries(s).filter(([, v]) => v === 'fail').map(([k]) => k)).toEqual([
      'server version', 'data_directory', 'archive_mode', 'archive_command', 'table accounts', 'column events.created_at',
    ]);
  });

  it('a data directory reached through a symlink is the same directory', () => {
    expect(statuses({ dataDirectory: '/data/pg', dataDirectoryReal: '/data/pg', planDataDirReal: '/data/pg' }).data_directory).toBe('pass');
    expect(statuses({ dataDirectory: '/var/lib/postgresql/15/main/' }).data_directory).toBe('pass');
  });

  it('warnings: failing or lagging archiving, hot_standby off, a non-timestamp column, an ambiguous log_timezone', () => {
    const s = statuses({
      archiver: { ...FACTS.archiver, failedCount: 3, lastFailedWal: '00000001000000000000000B', lastFailedTime: '2024-01-15T15:01:00.000Z' },
      hotStandby: 'off',
      columns: [{ table: 'events', column: 'created_at', type: 'integer' }],
      logTimezone: 'Asia/Kolkata',
      logTimezoneAbbreviation: 'IST',
    });
    expect(s.archiver).toBe('warn');
    expect(s.hot_standby).toBe('warn');
    expect(s['column events.created_at']).toBe('warn');
    expect(s.timezone).toBe('warn');
    const behind = evaluateChecks(PLAN, { ...FACTS, archiver: { ...FACTS.archiver, lastArchivedTime: '2024-01-15T14:00:00.000Z' } });
    expect(behind.find((c) => c.check === 'archive vs target')).toMatchObject({ status: 'warn', detail: expect.stringContaining('archiving is behind the target') });
  });

  it('lists the live server\'s tablespaces and what the recovery does with each', () => {
    const checks = evaluateChecks(PLAN, { ...FACTS, tablespaces: [{ name: 'fast', oid: '16390', location: '/srv/fast/ts' }] });
    const row = checks.find((c) => c.check === 'tablespace fast');
    expect(row?.status).toBe('info');
    expect(row?.detail).toContain('oid 16390 at /srv/fast/ts');
    expect(row?.detail).toContain('/srv/fast/ts.pre-pitr-<run id>');
    expect(evaluateChecks(PLAN, { ...FACTS, tablespaces: [] }).find((c) => c.check === 'tablespaces')?.detail).toBe('none outside the data directory');
  });

  it('archive_library instead of archive_command passes', () => {
    expect(statuses({ archiveCommand: '', archiveLibrary: 'basic_archive' }).archive_command).toBe('pass');
  });
});

describe('.pgpass', () => {
  const lookup = { host: '/var/run/postgresql', port: 5432, database: 'app', user: 'postgres' };
  it('matches like libpq: fields, wildcards, escapes, localhost for the default socket directory', () => {
    expect(passwordFromPgpass('localhost:5432:app:postgres:s3cret\n', lookup)).toBe('s3cret');
    expect(passwordFromPgpass('# comment\nother:5432:app:postgres:no\n*:*:app:*:a\\:b\\\\c:d\n', lookup)).toBe('a:b\\c:d');
    expect(passwordFromPgpass('localhost:5433:app:postgres:no\n', lookup)).toBeUndefined();
    expect(passwordFromPgpass('/tmp/pg:5432:*:*:sock\n', { ...lookup, host: '/tmp/pg' })).toBe('sock');
    expect(passwordFromPgpass('db.internal:5432:*:*:tcp\n', { ...lookup, host: 'db.internal' })).toBe('tcp');
  });
});
