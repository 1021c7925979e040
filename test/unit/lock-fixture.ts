/**
 * A lock file for an example plan, as `pitr resolve` would write it over a small fake
 * archive (CONTENT): shared by compile-lock.test.ts and bundle.test.ts.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { lockFileText, lockSourceOf, type LockFile } from '../../src/archive/lock.js';
import { planJsonText, sha256 } from '../../src/plan/plan-json.js';
import { loadAndValidate } from '../../src/plan/validate.js';
import type { NormalizedPlan } from '../../src/plan/normalized.js';
import { examplePlanPath, makeTempDir } from './compiler-helpers.js';

export const md5 = (data: string | Buffer): string => createHash('md5').update(data).digest('hex');
export const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
export const SEG = (n: number): string => `00000001000000000000000${n.toString(16).toUpperCase()}`;

/** The bytes of a small fake archive: a base backup tarball, its .backup file, three segments. */
export const CONTENT = {
  'base/b1.tar.gz': 'not really a tarball',
  'wal/000000010000000000000002.00000028.backup': 'LABEL: b1\n',
  [`wal/${SEG(2)}`]: 'segment two',
  [`wal/${SEG(3)}`]: 'segment three',
  [`wal/${SEG(4)}`]: 'segment four',
} as const;

/** A lock for PLAN as `pitr resolve` would write it over CONTENT. */
export function lockFor(plan: NormalizedPlan): LockFile {
  const fingerprint = (key: keyof typeof CONTENT) =>
    plan.source.kind === 's3' ? { etag: md5(CONTENT[key]) } : { sha256: sha(CONTENT[key]) };
  const object = (key: keyof typeof CONTENT) => ({ key, size: Buffer.byteLength(CONTENT[key]), ...fingerprint(key) });
  const wal = [2, 3, 4].map((n) => ({ name: SEG(n), ...object(`wal/${SEG(n)}` as keyof typeof CONTENT) }));
  return {
    lockVersion: 1,
    plan: { name: plan.name, sha256: sha256(planJsonText(plan)) },
    target: { kind: plan.target.kind, value: plan.target.value, timeline: plan.target.timeline },
    source: lockSourceOf(plan),
    backup: {
      id: 'b1',
      startLsn: '0/2000028',
      stopLsn: '0/2000100',
      startTimeline: 1,
      stopTimeline: 1,
      startWalFile: SEG(2),
      stopTime: '2024-01-15 14:00:05 UTC',
      stopTimeUtc: '2024-01-15T14:00:05+00:00',
      historyFile: { name: '000000010000000000000002.00000028.backup', ...object('wal/000000010000000000000002.00000028.backup') },
    },
    targetTimeline: 1,
    chain: [{ timeline: 1, beginLsn: '0/0' }],
    walSegmentSize: 16777216,
    walRange: { first: SEG(2), last: SEG(4), segments: 3, endsAt: 'archive-end', latestTransactionTime: '2024-01-15T14:31:02.5+00:00' },
    objects: { base: [object('base/b1.tar.gz')], history: [], wal },
    warnings: [],
  };
}

/** A plan file in its own directory: an example plan, optionally edited, with a lock beside it or not. */
export function planFile(edit: (doc: Record<string, any>) => void = () => {}): { file: string; dir: string; plan: NormalizedPlan } {
  const dir = makeTempDir('pitr-lock-');
  const doc = parse(readFileSync(examplePlanPath('realestateos-docker'), 'utf8')) as Record<string, any>;
  edit(doc);
  const file = join(dir, 'plan.yaml');
  writeFileSync(file, stringify(doc));
  return { file, dir, plan: loadAndValidate(file, readFileSync(file, 'utf8')) };
}

export function writeLock(file: string, lock: LockFile): string {
  const path = file.replace(/\.yaml$/, '.lock.json');
  writeFileSync(path, lockFileText(lock));
  return path;
}

