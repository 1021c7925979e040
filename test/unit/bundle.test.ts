// pitr bundle: a reproducible tarball of the compiled scripts plus its sha256; the
// unpacked scripts refuse to run when a byte was changed after bundling.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = join(import.meta.dirname, '..', '..');
const PITR = join(REPO, 'bin', 'pitr.js');
const PLAN = join(REPO, 'plans', 'realestateos-docker.yaml');

describe('pitr bundle', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pitr-bundle-test-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const bundle = (out: string) => spawnSync('node', [PITR, 'bundle', PLAN, '--out', out], { encoding: 'utf8', cwd: REPO });

  it('packs the same bytes every time, with a checking sha256 file', { timeout: 300_000 }, () => {
    const first = bundle(join(dir, 'a'));
    const second = bundle(join(dir, 'b'));
    expect(first.status, first.stderr).toBe(0);
    expect(second.status, second.stderr).toBe(0);
    const a = readFileSync(join(dir, 'a', 'realestateos-docker.tar.gz'));
    expect(a.equals(readFileSync(join(dir, 'b', 'realestateos-docker.tar.gz')))).toBe(true);
    execFileSync('sha256sum', ['--check', '--strict', 'realestateos-docker.tar.gz.sha256'], { cwd: join(dir, 'a') });
  });

  it('unpacks to scripts that run, and refuse to run once a byte is changed', { timeout: 120_000 }, () => {
    const host = join(dir, 'host');
    execFileSync('mkdir', ['-p', host]);
    execFileSync('tar', ['-xzf', join(dir, 'a', 'realestateos-docker.tar.gz'), '-C', host]);
    const bundleDir = join(host, 'realestateos-docker');
    const help = spawnSync('bash', [join(bundleDir, 'run.sh'), '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: ./run.sh');

    const target = join(bundleDir, 'phases', '04-fetch.sh');
    const bytes = readFileSync(target);
    bytes[200] = bytes[200] === 0x41 ? 0x42 : 0x41;
    writeFileSync(target, bytes);
    for (const script of ['run.sh', 'drill.sh', 'rollback.sh']) {
      const tampered = spawnSync('bash', [join(bundleDir, script), ...(script === 'run.sh' ? ['--dry-run'] : [])], {
        encoding: 'utf8',
        env: { ...process.env, PITR_STATE_DIR: join(dir, 'state') },
      });
      expect(tampered.status, `${script}: ${tampered.stderr}`).toBe(4);
      expect(tampered.stderr).toContain('SHA256SUMS does not match');
      expect(tampered.stderr).toContain('phases/04-fetch.sh');
    }
  });
});
