/**
 * runShellcheck splits the files into runs of consecutive files that shellcheck checks at
 * the same time. However they are split, the findings (and their order) and the errors
 * must be exactly those of one shellcheck run over every file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { consecutiveBatches, runShellcheck } from '../../src/compile/shellcheck.js';

const dir = mkdtempSync(join(tmpdir(), 'pitr-shellcheck-runs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Findings in several files, one of them sourced (its definitions silence warnings in
// the files that source it), one file clean.
const SCRIPTS: Record<string, string> = {
  'lib/common.sh': '#!/bin/bash\n# shellcheck shell=bash\nreadonly GREETING=hello\nsay() { echo $1; }\n',
  'a.sh': '#!/bin/bash\n# shellcheck source=lib/common.sh\nsource lib/common.sh\nsay "${GREETING}"\necho $undefined_name\n',
  'b.sh': '#!/bin/bash\nfor f in $(ls); do echo "$f"; done\n[ $1 == x ] && cd /tmp\n',
  'c.sh': '#!/bin/bash\necho "clean"\n',
  'd.sh': '#!/bin/bash\n# shellcheck source=lib/common.sh\nsource lib/common.sh\nsay "${GREETING}" `date`\n',
};
for (const [path, text] of Object.entries(SCRIPTS)) {
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), text);
}
const FILES = Object.keys(SCRIPTS);

describe('runShellcheck in concurrent runs', () => {
  const oneRun = runShellcheck(dir, FILES, 1);

  it('the example has findings in several files, to compare something', () => {
    expect(new Set(oneRun.map((f) => f.file)).size).toBeGreaterThanOrEqual(3);
  });

  it.each([2, 3, FILES.length, 64])('%i runs give exactly the findings of one run, in the same order', (processes) => {
    expect(runShellcheck(dir, FILES, processes)).toEqual(oneRun);
  });

  it.each([2, 3])('%i runs fail with the same message as one run when a file cannot be read', (processes) => {
    const files = [...FILES.slice(0, 2), 'missing.sh', ...FILES.slice(2), 'also-missing.sh'];
    const message = (n: number): string => {
      try {
        runShellcheck(dir, files, n);
        return 'no error';
      } catch (error) {
        return (error as Error).message;
      }
    };
    const expected = message(1);
    expect(expected).toMatch(/^shellcheck failed to run \(exit 2\): .*missing\.sh/s);
    expect(message(processes)).toBe(expected);
  });

  it.each([1, 2])('%i runs: without shellcheck on PATH, the same install hint', (processes) => {
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'no-such-dir');
    try {
      expect(() => runShellcheck(dir, FILES, processes)).toThrow(/shellcheck is not installed.*--no-shellcheck/);
    } finally {
      process.env.PATH = path;
    }
  });
});

describe('consecutiveBatches', () => {
  it('keeps the order and splits as evenly as it can', () => {
    const files = ['a', 'b', 'c', 'd', 'e'];
    expect(consecutiveBatches(files, 1)).toEqual([files]);
    expect(consecutiveBatches(files, 2)).toEqual([['a', 'b', 'c'], ['d', 'e']]);
    expect(consecutiveBatches(files, 3)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(consecutiveBatches(files, 9)).toEqual(files.map((f) => [f]));
    expect(consecutiveBatches(files, 0)).toEqual([files]);
  });
});
