// pitr bundle: a reproducible tarball of the compiled scripts plus its sha256; the
// unpacked scripts verify, and refuse to run when a byte was changed after bundling
// (lib/pinned.tsv of a locked plan included).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lockFor, planFile, SEG, writeLock } from './lock-fixture.js';

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

  /** Runs each entry script of an unpacked bundle with its own state directory. */
  function runEntryScripts(bundleDir: string, stateRoot: string) {
    return ['run.sh', 'drill.sh', 'rollback.sh'].map((script) => {
      const state = join(stateRoot, script);
      const result = spawnSync('bash', [join(bundleDir, script), ...(script === 'run.sh' ? ['--dry-run'] : [])], {
        encoding: 'utf8',
        env: { ...process.env, PITR_STATE_DIR: state },
      });
      // drill.sh keeps its state (and run log) in STATE/drill.
      const log = join(state, ...(script === 'drill.sh' ? ['drill'] : []), 'run.log');
      return { script, log, status: result.status, stderr: result.stderr };
    });
  }

  function unpack(tarball: string, host: string): void {
    mkdirSync(host, { recursive: true });
    execFileSync('tar', ['-xzf', tarball, '-C', host]);
  }

  function flipByte(file: string, offset: number): void {
    const bytes = readFileSync(file);
    bytes[offset] = bytes[offset] === 0x41 ? 0x42 : 0x41;
    writeFileSync(file, bytes);
  }

  // The untampered bundle passes verify_bundle: each script gets past it to its own work
  // (it opens its run log; on this machine, with no such server, it then fails on
  // something else, never with exit 4). The same bundle with one byte flipped stops at
  // verify_bundle with exit 4, naming the file, before it writes anything.
  it('unpacks to scripts that verify, and refuse to run once a byte is changed', { timeout: 120_000 }, () => {
    const host = join(dir, 'host');
    unpack(join(dir, 'a', 'realestateos-docker.tar.gz'), host);
    const bundleDir = join(host, 'realestateos-docker');
    const help = spawnSync('bash', [join(bundleDir, 'run.sh'), '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: ./run.sh');

    for (const r of runEntryScripts(bundleDir, join(dir, 'state-untampered'))) {
      expect(r.stderr, r.script).not.toContain('SHA256SUMS does not match');
      expect(r.status, `${r.script}: ${r.stderr}`).not.toBe(4);
      expect(existsSync(r.log), `${r.script} opened its run log: ${r.stderr}`).toBe(true);
    }

    flipByte(join(bundleDir, 'phases', '04-fetch.sh'), 200);
    for (const r of runEntryScripts(bundleDir, join(dir, 'state-tampered'))) {
      expect(r.status, `${r.script}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toContain('SHA256SUMS does not match');
      expect(r.stderr).toContain('phases/04-fetch.sh');
      expect(existsSync(r.log), r.script).toBe(false);
    }
  });

  it('of a locked plan carries lib/pinned.tsv under SHA256SUMS: one flipped byte in it is refused', { timeout: 900_000 }, () => {
    const { file, dir: planDir, plan } = planFile();
    writeLock(file, lockFor(plan));
    const out = join(planDir, 'bundle');
    const result = spawnSync('node', [PITR, 'bundle', file, '--out', out], { encoding: 'utf8', cwd: planDir });
    expect(result.status, result.stderr).toBe(0);
    const host = join(planDir, 'host');
    unpack(join(out, `${plan.name}.tar.gz`), host);
    const bundleDir = join(host, plan.name);
    const tsv = readFileSync(join(bundleDir, 'lib', 'pinned.tsv'), 'utf8');
    expect(tsv).toContain(`wal\t${SEG(2)}\t`);
    expect(readFileSync(join(bundleDir, 'SHA256SUMS'), 'utf8')).toMatch(/ {2}lib\/pinned\.tsv\n/);
    for (const r of runEntryScripts(bundleDir, join(planDir, 'state-untampered'))) {
      expect(r.status, `${r.script}: ${r.stderr}`).not.toBe(4);
      expect(existsSync(r.log), `${r.script}: ${r.stderr}`).toBe(true);
    }
    // One byte of the first pinned WAL line (its name): an edit that would pin another object.
    flipByte(join(bundleDir, 'lib', 'pinned.tsv'), tsv.indexOf(`${SEG(2)}\t`) + 2);
    for (const r of runEntryScripts(bundleDir, join(planDir, 'state-tampered'))) {
      expect(r.status, `${r.script}: ${r.stderr}`).toBe(4);
      expect(r.stderr).toContain('SHA256SUMS does not match');
      expect(r.stderr).toContain('lib/pinned.tsv');
    }
  });
});
