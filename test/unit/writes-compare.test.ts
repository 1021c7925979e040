/**
 * lib/writes.sh: finalize's verdict on writes after the services stopped, from two
 * snapshots of production's counters (phase 02's and now). Run by bash on the compiled
 * example's library; the snapshots are written here in the format writes_snapshot makes
 * (the e2e test operator-claims shows the real counters of a real writer).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDirs } from './compiler-helpers.js';
import { writeCompiledExample } from './script-bundle.js';

let bundle = '';
let dir = '';

beforeAll(() => {
  bundle = writeCompiledExample();
  dir = makeTempDir('pitr-writes-');
});

afterAll(() => {
  removeTempDirs();
});

const BASELINE = [
  'xid\t1000',
  'wal\t50000000',
  'analyses\t10',
  'table\t16384\t16390\t16390\t120\tapp.public.events',
  'table\t16384\t16400\t16400\t7\tapp.public.accounts',
  'table\t16384\t2613\t2613\t0\tapp.pg_catalog.pg_largeobject',
  'analyses\t4',
  'table\t16385\t16500\t16500\t3\tother db.public.jobs',
];

/** writes_compare BASELINE NOW, then writes_found's verdict. */
function compare(now: string[]) {
  return compareFrom(BASELINE, now);
}

function compareFrom(before: string[], now: string[]) {
  writeFileSync(join(dir, 'before.tsv'), `${before.join('\n')}\n`);
  writeFileSync(join(dir, 'now.tsv'), `${now.join('\n')}\n`);
  const result = spawnSync('/bin/bash', ['-c', `set -Eeuo pipefail
source lib/common.sh
source lib/writes.sh
report="$(writes_compare "$1" "$2")"
printf '%s\\n' "\${report}"
if writes_found "\${report}"; then echo verdict=written; else echo verdict=clean; fi`, '_', join(dir, 'before.tsv'), join(dir, 'now.tsv')], {
    cwd: bundle,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, PITR_STATE_DIR: makeTempDir('pitr-state-') },
  });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim().split('\n');
}

describe('writes_compare and writes_found (lib/writes.sh)', () => {
  it('the same counters, WAL written by checkpoints and three transactions of autovacuum\'s ANALYZE: nothing written', () => {
    const now = BASELINE.map((row) => row.replace('xid\t1000', 'xid\t1003').replace('wal\t50000000', 'wal\t50100000').replace('analyses\t10', 'analyses\t13'));
    expect(compare(now)).toEqual(['summary\t3\t3\t100000', 'verdict=clean']);
  });

  it('rows changed in a table of another database: that table, with how many', () => {
    const now = BASELINE.map((row) => row.replace('16500\t3\t', '16500\t8\t').replace('xid\t1000', 'xid\t1001'));
    expect(compare(now)).toEqual(['summary\t1\t0\t0', 'table\tother db.public.jobs\t5 rows inserted, updated or deleted', 'verdict=written']);
  });

  it('a table created, one dropped, one truncated (new relfilenode), large objects written: each named', () => {
    const now = [
      'xid\t1010',
      'wal\t50000000',
      'analyses\t10',
      'table\t16384\t16390\t17000\t120\tapp.public.events',
      'table\t16384\t2613\t2613\t2\tapp.pg_catalog.pg_largeobject',
      'table\t16384\t16600\t16600\t0\tapp.public.new_table',
      'analyses\t4',
      'table\t16385\t16500\t16500\t3\tother db.public.jobs',
    ];
    expect(compare(now)).toEqual([
      'summary\t10\t0\t0',
      'table\tapp.pg_catalog.pg_largeobject\t2 rows inserted, updated or deleted',
      'table\tapp.public.accounts\tdropped',
      'table\tapp.public.events\trewritten (TRUNCATE, VACUUM FULL, CLUSTER or REFRESH MATERIALIZED VIEW)',
      'table\tapp.public.new_table\tcreated (0 rows inserted, updated or deleted)',
      'verdict=written',
    ]);
  });

  it('no table changed but transaction ids consumed beyond the ANALYZE runs (DDL, a sequence): written', () => {
    const now = BASELINE.map((row) => row.replace('xid\t1000', 'xid\t1005').replace('analyses\t10', 'analyses\t12'));
    expect(compare(now)).toEqual(['summary\t5\t2\t0', 'verdict=written']);
  });

  it('a database unreadable now (its connection failed): its tables are not reported dropped, the others still compared', () => {
    const now = [...BASELINE.filter((row) => !row.includes('other db')).filter((row, i, all) => !(row === 'analyses\t4' && i === all.length - 1)), 'unreadable\t16385\tother db']
      .map((row) => row.replace('16400\t7\t', '16400\t9\t'));
    expect(compare(now)).toEqual(['summary\t0\t-4\t0', 'table\tapp.public.accounts\t2 rows inserted, updated or deleted', 'verdict=written']);
  });

  it('a database unreadable in phase 02 and readable now: its tables are not reported created', () => {
    const before = BASELINE.filter((row) => !row.includes('other db'));
    expect(compareFrom([...before.slice(0, -1), 'unreadable\t16385\tother db'], BASELINE)).toEqual(['summary\t0\t4\t0', 'verdict=clean']);
  });

  it('statistics reset (counters went down): writes cannot be ruled out', () => {
    const now = BASELINE.map((row) => row.replace('16400\t7\t', '16400\t0\t'));
    expect(compare(now)).toEqual(['summary\t0\t0\t0', 'table\tapp.public.accounts\tits counters went down (statistics reset): writes cannot be ruled out', 'verdict=written']);
  });
});
