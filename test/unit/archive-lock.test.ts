import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { lockFileText, lockPathFor, parseLockFile, type LockFile } from '../../src/archive/lock.js';
import { firstTarMember } from '../../src/archive/tar-head.js';
import { decompressByKey } from '../../src/sources/decompress.js';

const LOCK: LockFile = {
  lockVersion: 1,
  plan: { name: 'x', sha256: 'ab' },
  target: { kind: 'time', value: '2024-01-15T14:30:00+00:00', timeline: 'latest' },
  source: { kind: 'local', bucket: null, region: null, endpoint: null, path: '/a', base: { prefix: 'base/', layout: 'tarball' }, wal: { prefix: 'wal/', compression: 'none' } },
  backup: {
    id: 'b1', startLsn: '0/2000028', stopLsn: '0/2000100', startTimeline: 1, stopTimeline: 1, startWalFile: '000000010000000000000002',
    stopTime: '2024-01-15 23:30:00 JST', stopTimeUtc: '2024-01-15T14:30:00+00:00',
    historyFile: { name: '000000010000000000000002.00000028.backup', key: 'wal/000000010000000000000002.00000028.backup', size: 300, sha256: 'cd' },
  },
  targetTimeline: 1,
  chain: [{ timeline: 1, beginLsn: '0/0' }],
  walSegmentSize: 16777216,
  walRange: { first: '000000010000000000000002', last: '000000010000000000000003', segments: 2, endsAt: 'archive-end', latestTransactionTime: null },
  objects: {
    base: [{ key: 'base/b1.tar.gz', size: 10, sha256: 'ef' }],
    history: [],
    wal: [
      { name: '000000010000000000000002', key: 'wal/000000010000000000000002', size: 16777216, sha256: '01' },
      { name: '000000010000000000000003', key: 'wal/000000010000000000000003', size: 16777216, sha256: '02' },
    ],
  },
  warnings: [],
};

describe('the lock file', () => {
  it('sits beside the plan', () => {
    expect(lockPathFor('plans/x.yaml')).toBe('plans/x.lock.json');
    expect(lockPathFor('/a/b.c/plan.yml')).toBe('/a/b.c/plan.lock.json');
    expect(lockPathFor('plan')).toBe('plan.lock.json');
  });

  it('is deterministic JSON: keys sorted at every level, arrays in order, a trailing newline', () => {
    const text = lockFileText(LOCK);
    expect(text.endsWith('}\n')).toBe(true);
    // JSON.parse keeps the text's key order: every object, at every depth, in order.
    const unsorted: string[] = [];
    let objects = 0;
    const walk = (value: unknown, path: string): void => {
      if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${path}[${i}]`));
      else if (value !== null && typeof value === 'object') {
        objects += 1;
        const keys = Object.keys(value);
        if (keys.join('\n') !== [...keys].sort().join('\n')) unsorted.push(`${path || '/'}: ${keys.join(', ')}`);
        for (const key of keys) walk((value as Record<string, unknown>)[key], `${path}/${key}`);
      }
    };
    walk(JSON.parse(text), '');
    expect(unsorted).toEqual([]);
    // The fixture's nested objects (plan, target, source.base, backup.historyFile, the
    // objects' entries...) were checked, not only the top level.
    expect(objects).toBe(14);
    expect(text.indexOf('"000000010000000000000002"')).toBeLessThan(text.indexOf('"000000010000000000000003"'));
    // The same lock with the keys of EVERY object reversed gives the same bytes.
    const reversed = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(reversed);
      if (value !== null && typeof value === 'object') {
        return Object.fromEntries(Object.keys(value).reverse().map((k) => [k, reversed((value as Record<string, unknown>)[k])]));
      }
      return value;
    };
    expect(JSON.stringify(reversed(LOCK))).not.toBe(JSON.stringify(LOCK));
    expect(lockFileText(reversed(LOCK) as LockFile)).toBe(text);
    expect(parseLockFile(text)).toEqual(JSON.parse(text));
  });

  it('is refused when it is not a version 1 lock', () => {
    expect(() => parseLockFile('{"lockVersion": 2}')).toThrow(/lockVersion is 2/);
    expect(() => parseLockFile('{"lockVersion": 1}')).toThrow(/has no plan/);
  });
});

describe('the first tar member from the head of a gzip\'d tarball', () => {
  function tar(name: string, content: string): Buffer {
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write('0000644\0', 100);
    header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('ustar\x0000', 257);
    const body = Buffer.alloc(Math.ceil(content.length / 512) * 512);
    body.write(content);
    return Buffer.concat([header, body, Buffer.alloc(100_000, 7)]);
  }

  it('reads backup_label from the first kilobytes only', async () => {
    const gz = gzipSync(tar('backup_label', 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n'));
    const head = await decompressByKey('base/b1.tar.gz', gz.subarray(0, Math.min(gz.length, 300)), true);
    const member = firstTarMember(head);
    expect(member?.name).toBe('backup_label');
    expect(member?.content.toString()).toContain('START WAL LOCATION');
  });

  it('returns null for too little data or something else', () => {
    expect(firstTarMember(Buffer.alloc(100))).toBeNull();
    expect(firstTarMember(Buffer.alloc(1024))).toBeNull();
  });
});
