/**
 * Preflight's program check reads each view's tools: the runtime's (docker compose:
 * docker), the notification's (Slack: curl) and the HTTP checks' (curl), besides the
 * common ones. Run by bash from the compiled docker example (S3, docker, Slack, an HTTP
 * check) on a PATH that lacks docker and curl: both are named, curl once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDirs } from './compiler-helpers.js';
import { writeCompiledExample } from './script-bundle.js';

afterAll(() => {
  removeTempDirs();
});

/** A PATH with the common tools preflight checks and what sourcing the libraries needs, without EXCLUDED. */
function pathWithout(excluded: string[]): string {
  const bin = join(makeTempDir('pitr-bin-'), 'bin');
  mkdirSync(bin);
  const tools = ['tar', 'gzip', 'sha256sum', 'flock', 'find', 'df', 'stat', 'date', 'sed', 'setsid', 'nice', 'runuser',
    'dirname', 'cat', 'env', 'id', 'mkdir', 'chmod', 'mv', 'touch', 'sort', 'docker', 'curl'];
  for (const tool of tools.filter((t) => !excluded.includes(t))) {
    const target = [`/usr/bin/${tool}`, `/bin/${tool}`, `/usr/sbin/${tool}`, `/sbin/${tool}`].find((p) => existsSync(p));
    if (target !== undefined) symlinkSync(target, join(bin, tool));
  }
  return bin;
}

function checkTools(path: string) {
  const bundle = writeCompiledExample('realestateos-docker');
  // The phase's functions without its last line (main "$@").
  const phase = readFileSync(join(bundle, 'phases/00-preflight.sh'), 'utf8').replace(/\nmain "\$@"\n$/, '\n');
  writeFileSync(join(bundle, 'phases/00-preflight-functions.sh'), phase);
  const result = spawnSync('/bin/bash', ['-c', 'source phases/00-preflight-functions.sh\ncheck_tools\necho reached'], {
    cwd: bundle,
    encoding: 'utf8',
    env: { PATH: path, PITR_STATE_DIR: makeTempDir('pitr-state-') },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('preflight names every missing program the plan\'s views need', () => {
  it('docker (the compose runtime) and curl (Slack and the HTTP check), curl once', () => {
    const result = checkTools(pathWithout(['docker', 'curl']));
    expect(result.stdout).toBe('');
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/FAIL \[[^\]]*\] missing programs: curl docker\n/);
  });

  it('passes the program check when they are present', () => {
    // Stand-ins: only their presence is checked here.
    const bin = pathWithout([]);
    for (const tool of ['docker', 'curl']) if (!existsSync(join(bin, tool))) writeFileSync(join(bin, tool), '#!/bin/sh\n', { mode: 0o755 });
    const result = checkTools(bin);
    expect(result.stderr).not.toContain('missing programs');
  });
});
