/**
 * Colour and symbols in the CLI's output (src/terminal-style.ts): when they are on
 * (terminal, NO_COLOR, FORCE_COLOR, TERM), what each kind of line looks like, that the
 * words and columns never change, and the real CLI on a pseudo-terminal and a pipe.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { colourEnabled, styleText } from '../../src/terminal-style.js';
import { PITR_BIN, REPO_ROOT, removeTempDirs, runPitr } from './compiler-helpers.js';
import { onTerminal } from './script-bundle.js';

afterAll(() => {
  removeTempDirs();
});

const ESC = '\x1b[';
const INVALID = join(REPO_ROOT, 'test', 'fixtures', 'invalid', 'auto-backup-with-xid.yaml');
const VALID = join(REPO_ROOT, 'plans', 'realestateos-docker.yaml');

/** The text a person reads: escapes removed. */
const visible = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '');
/** ... and the symbols too: what the plain output says. */
const words = (text: string): string => visible(text).replace(/(^|(?<=\x20))[✔✖⚠▸] /gmu, '');

describe('colourEnabled', () => {
  it.each([
    ['a terminal', true, { TERM: 'xterm' }, true],
    ['a pipe', false, { TERM: 'xterm' }, false],
    ['a terminal with NO_COLOR=1', true, { TERM: 'xterm', NO_COLOR: '1' }, false],
    ['a terminal with NO_COLOR=0 (any non-empty value)', true, { TERM: 'xterm', NO_COLOR: '0' }, false],
    ['a terminal with NO_COLOR empty', true, { TERM: 'xterm', NO_COLOR: '' }, true],
    ['a terminal with TERM=dumb', true, { TERM: 'dumb' }, false],
    ['a terminal without TERM', true, {}, false],
    ['a pipe with FORCE_COLOR=1', false, { FORCE_COLOR: '1' }, true],
    ['a terminal with FORCE_COLOR=0', true, { TERM: 'xterm', FORCE_COLOR: '0' }, false],
    ['a pipe with FORCE_COLOR=1 and NO_COLOR=1', false, { FORCE_COLOR: '1', NO_COLOR: '1' }, false],
  ])('%s → %s', (_label, isTTY, env, expected) => {
    expect(colourEnabled({ isTTY, env })).toBe(expected);
  });
});

describe('styleText', () => {
  it('marks errors and warnings with a symbol and colour, the location in bold', () => {
    expect(styleText('plans/x.yaml:3:5: error: bad value (at /target)\n')).toBe(
      `${ESC}1mplans/x.yaml:3:5:${ESC}0m ${ESC}1;31m✖ error:${ESC}0m bad value (at /target)\n`,
    );
    expect(styleText('plans/x.yaml: warning: STOP TIME zone is ambiguous\n')).toBe(
      `${ESC}1mplans/x.yaml:${ESC}0m ${ESC}33m⚠ warning:${ESC}0m STOP TIME zone is ambiguous\n`,
    );
    expect(styleText('pitr: --format must be text or json, not xml\n')).toBe(`${ESC}1;31m✖ pitr:${ESC}0m --format must be text or json, not xml\n`);
  });

  it('dims the code frame gutter and colours the caret', () => {
    expect(styleText('  14 |   backup: auto\n     |           ^\n')).toBe(
      `${ESC}2m  14 | ${ESC}0m  backup: auto\n${ESC}2m     | ${ESC}0m          ${ESC}1;31m^${ESC}0m\n`,
    );
  });

  it('marks success lines with a green tick', () => {
    for (const line of ['plans/x.yaml: ok', 'plans/x.yaml → out/x/ (18 files)', 'plans/x.yaml: out/x/ is up to date']) {
      expect(styleText(line)).toBe(`${ESC}32m✔${ESC}0m ${line}`);
    }
    expect(styleText('stale: out/x/run.sh')).toBe(`${ESC}33m⚠ stale:${ESC}0m out/x/run.sh`);
  });

  it("gives inspect's statuses a symbol without moving any column", () => {
    const table = [
      'plans/x.yaml: server /run/postgresql port 5432, database app, role postgres',
      'STATUS  CHECK           DETAIL',
      'pass    server version  15.4',
      'info    timezone        UTC',
      'warn    hot_standby     off',
      'fail    archive_mode    off',
      '                        fix: set archive_mode = on',
      '1 failed, 1 warnings, 1 passed, 1 info',
      '',
    ].join('\n');
    const styled = styleText(table);
    expect(styled).toContain(`${ESC}32m✔ pass${ESC}0m  server version`);
    expect(styled).toContain(`${ESC}1;31m✖ fail${ESC}0m  archive_mode`);
    expect(styled).toContain(`${ESC}36mfix:${ESC}0m set archive_mode = on`);
    // Every column starts where it did: the checks and details line up under the header.
    const plainLines = table.split('\n');
    const shownLines = visible(styled).split('\n');
    for (const cell of ['CHECK', 'server version', 'timezone', 'hot_standby', 'archive_mode', '15.4', 'DETAIL', 'fix:']) {
      const row = plainLines.findIndex((l) => l.includes(cell));
      expect(shownLines[row]!.indexOf(cell), cell).toBe(plainLines[row]!.indexOf(cell));
    }
  });

  it('changes no word of any line, and leaves other lines alone', () => {
    const text = [
      'plans/x.yaml:3:5: error: bad (at /a)',
      '   3 |   a: 1',
      '     |     ^',
      '',
      'nothing was written: fix the errors above and compile again',
      'plans/x.lock.json: error: the lock file does not fit plans/x.yaml:',
      '  - the target changed',
      '  fix: run pitr resolve plans/x.yaml again',
      '',
    ].join('\n');
    expect(words(styleText(text))).toBe(text);
    expect(styleText('nothing was written: fix the errors above and compile again\n')).toBe('nothing was written: fix the errors above and compile again\n');
  });

  it('leaves JSON output alone', () => {
    const json = `${JSON.stringify({ files: [{ file: 'x', findings: [{ message: 'x.yaml: error: y' }] }] }, null, 2)}\n`;
    expect(styleText(json)).toBe(json);
  });
});

describe('pitr validate output', () => {
  const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, SHELL: '/bin/bash', LANG: 'C.UTF-8', ...extra });

  it('is plain through a pipe, coloured with FORCE_COLOR=1, plain again with NO_COLOR=1', () => {
    const plain = runPitr(['validate', INVALID, VALID], { env: env({ TERM: 'xterm' }) });
    expect(plain.status).toBe(1);
    expect(plain.stderr + plain.stdout).not.toContain('\x1b');
    expect(plain.stderr).toMatch(/auto-backup-with-xid\.yaml:14:11: error: /);

    const forced = runPitr(['validate', INVALID, VALID], { env: env({ FORCE_COLOR: '1' }) });
    expect(forced.status).toBe(1);
    expect(forced.stderr).toContain(`${ESC}1;31m✖ error:${ESC}0m`);
    expect(forced.stdout).toBe(`${ESC}32m✔${ESC}0m ${VALID}: ok\n`);
    expect(words(forced.stderr)).toBe(plain.stderr);

    const refused = runPitr(['validate', INVALID], { env: env({ FORCE_COLOR: '1', NO_COLOR: '1' }) });
    expect(refused.stderr).toBe(runPitr(['validate', INVALID], { env: env({}) }).stderr);
  });

  it('is coloured on a terminal, plain there with NO_COLOR=1, and --format json never is', () => {
    const command = (args: string) => `${process.execPath} ${PITR_BIN} ${args}`;
    const coloured = onTerminal(command(`validate ${INVALID} ${VALID}`), env({ TERM: 'xterm-256color' }));
    expect(coloured.status).toBe(1);
    expect(coloured.stdout).toContain(`${ESC}1;31m✖ error:${ESC}0m`);
    expect(coloured.stdout).toContain(`${ESC}32m✔${ESC}0m ${VALID}: ok`);

    const plain = onTerminal(command(`validate ${INVALID} ${VALID}`), env({ TERM: 'xterm-256color', NO_COLOR: '1' }));
    expect(plain.stdout).not.toContain('\x1b');
    expect(plain.stdout).toContain(`${VALID}: ok`);

    const json = onTerminal(command(`validate --format json ${INVALID}`), env({ TERM: 'xterm-256color' }));
    expect(json.stdout).not.toContain('\x1b');
    expect(JSON.parse(json.stdout)).toHaveProperty('files');
  });

  it('a usage error is marked on a terminal', () => {
    const result = runPitr(['validate', '--format', 'xml', VALID], { env: env({ FORCE_COLOR: '1' }) });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(`${ESC}1;31m✖ pitr:${ESC}0m --format must be text or json, not xml\n`);
  });
});
