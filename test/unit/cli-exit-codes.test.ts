/**
 * `pitr resolve` and `pitr inspect` through the real CLI (bin/pitr.js): the exit codes
 * their help promises. resolve: 0 written, 1 the archive cannot serve the plan, 2
 * unreadable. inspect: 0 ok, 1 a check failed, 2 cannot connect. (0 for both, and
 * `pitr bundle` of a locked plan, against a real server and archive: see
 * test/e2e/operator-claims.test.ts and test/unit/bundle.test.ts.)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDirs, runPitr } from './compiler-helpers.js';
import { planFile } from './lock-fixture.js';

afterAll(() => {
  removeTempDirs();
});

describe.each(['resolve', 'inspect'])('pitr %s exit codes', (command) => {
  it('2 when the plan cannot be read, with the path', () => {
    const missing = join(makeTempDir('pitr-cli-'), 'nope.yaml');
    const result = runPitr([command, missing]);
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toContain(`${missing}: error: cannot read the plan`);
  });

  it('1 when the plan is invalid, with the finding, and nothing done', () => {
    const { file, dir } = planFile();
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^  time: .*$/m, '  time: not a time'));
    const result = runPitr([command, file]);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain(`${file}:`);
    expect(result.stderr).toContain(command === 'resolve' ? 'nothing was resolved: fix the plan first' : 'nothing was inspected: fix the plan first');
    expect(existsSync(join(dir, 'plan.lock.json'))).toBe(false);
  });
});

describe('pitr resolve', () => {
  it('1 when the archive holds no base backup for the plan, with a fix, and no lock written', () => {
    const archive = makeTempDir('pitr-cli-archive-');
    mkdirSync(join(archive, 'base'));
    mkdirSync(join(archive, 'wal'));
    const { file, dir } = planFile((doc) => {
      doc.source = { kind: 'local', path: archive, base: doc.source.base, wal: doc.source.wal };
    });
    const result = runPitr(['resolve', file]);
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain(`${file}: error: `);
    expect(result.stderr).toContain('  fix: ');
    expect(existsSync(join(dir, 'plan.lock.json'))).toBe(false);
  });
});

describe('pitr inspect', () => {
  it('2 when no server answers, with what libpq says', () => {
    const socketDir = makeTempDir('pitr-cli-nosocket-');
    const { file } = planFile((doc) => {
      doc.postgres.host = socketDir;
      doc.postgres.port = 1;
    });
    const result = runPitr(['inspect', file]);
    expect(result.status, result.stderr).toBe(2);
    expect(result.stderr).toContain(`${file}: error: `);
    expect(result.stderr).toContain(socketDir);
  });
});
