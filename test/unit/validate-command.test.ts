import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../src/commands/validate.js';
import { loadAndValidate } from '../../src/plan/validate.js';
import type { ValidateIO } from '../../src/commands/validate.js';
import { PlanError } from '../../src/plan/findings.js';

const GOOD = readFileSync(new URL('../../plans/realestateos-docker.yaml', import.meta.url), 'utf8');
/** Two schema errors: both must be reported. */
const BAD = GOOD.replace('  parallelism: 8\n', '  parallelism: 0\n').replace('name: realestateos-docker', 'name: Bad_Name');

/** In-memory files and captured output. */
function fakeIO(files: Record<string, string>): ValidateIO & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    readFile(file: string): Promise<string> {
      const text = files[file];
      if (text === undefined) return Promise.reject(new Error(`ENOENT: no such file or directory, open '${file}'`));
      return Promise.resolve(text);
    },
    stdout(text: string): void {
      io.out += text;
    },
    stderr(text: string): void {
      io.err += text;
    },
  };
  return io;
}

describe('runValidate, text output', () => {
  it('prints FILE: ok on stdout and exits 0 when every plan is valid', async () => {
    const io = fakeIO({ 'a.yaml': GOOD, 'b.yaml': GOOD });
    expect(await runValidate(['a.yaml', 'b.yaml'], { format: 'text' }, io)).toBe(0);
    expect(io.out).toBe('a.yaml: ok\nb.yaml: ok\n');
    expect(io.err).toBe('');
  });

  it('prints every finding of every file on stderr and exits 1', async () => {
    const io = fakeIO({ 'a.yaml': GOOD, 'bad.yaml': BAD });
    expect(await runValidate(['bad.yaml', 'a.yaml'], { format: 'text' }, io)).toBe(1);
    expect(io.out).toBe('a.yaml: ok\n');
    expect(io.err).toContain('bad.yaml:5:7: error: "name" must be lowercase letters');
    expect(io.err).toContain('  5 | name: Bad_Name\n    |       ^\n');
  });

  it('exits 2 when a file cannot be read, and still checks the others', async () => {
    const io = fakeIO({ 'bad.yaml': BAD });
    expect(await runValidate(['missing.yaml', 'bad.yaml'], { format: 'text' }, io)).toBe(2);
    expect(io.err).toContain("missing.yaml: error: cannot read file: ENOENT: no such file or directory, open 'missing.yaml'\n");
    expect(io.err).toContain('bad.yaml:5:7: error:');
  });

  it('accepts a synchronous readFile', async () => {
    const io = { ...fakeIO({}), readFile: () => GOOD };
    expect(await runValidate(['a.yaml'], { format: 'text' }, io)).toBe(0);
  });
});

describe('runValidate, JSON output', () => {
  it('prints one document with every file on stdout', async () => {
    const io = fakeIO({ 'a.yaml': GOOD, 'bad.yaml': BAD });
    expect(await runValidate(['a.yaml', 'bad.yaml', 'gone.yaml'], { format: 'json' }, io)).toBe(2);
    expect(io.err).toBe('');
    const report = JSON.parse(io.out) as {
      files: { file: string; ok: boolean; findings: Record<string, unknown>[]; error?: string }[];
    };
    expect(report.files.map(({ file, ok }) => ({ file, ok }))).toEqual([
      { file: 'a.yaml', ok: true },
      { file: 'bad.yaml', ok: false },
      { file: 'gone.yaml', ok: false },
    ]);
    expect(report.files[1]?.findings[0]).toEqual({
      file: 'bad.yaml',
      line: 5,
      column: 7,
      pointer: '/name',
      message: expect.stringContaining('"name" must be'),
    });
    expect(report.files[1]?.findings).toHaveLength(2);
    expect(report.files[2]?.error).toContain('cannot read file');
  });
});

describe('loadAndValidate', () => {
  it('returns the normalized plan', () => {
    expect(loadAndValidate('a.yaml', GOOD).target.value).toBe('2024-01-15T14:30:00+00:00');
  });

  it('throws PlanError carrying every finding', () => {
    let caught: unknown;
    try {
      loadAndValidate('bad.yaml', BAD);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PlanError);
    expect((caught as PlanError).findings).toHaveLength(2);
  });
});
