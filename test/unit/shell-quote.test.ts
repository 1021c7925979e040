/**
 * shellQuote is the one way a plan value becomes a shell word (DESIGN.md, "Quoting").
 * These tests hand adversarial values to real bash and dash and check that the word
 * means exactly the value and runs nothing. Node starts the shells with argv arrays
 * (no shell in between), so only the quoting under test is involved.
 *
 * The shells run with PATH set to a directory holding only `touch` and a fake `rm`
 * that touches the sentinel: if quoting ever broke, `;rm -rf /` would be caught, not run.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoveryConfBlock, restoreCommand } from '../../src/compile/recovery-config.js';
import { confQuote, shellComment, shellName, shellQuote } from '../../src/compile/shell.js';
import { loadExamplePlan, makeTempDir, removeTempDirs, run } from './compiler-helpers.js';

const TAG = randomBytes(6).toString('hex');
/** Anything that would run a command touches this file. */
const SENTINEL = `/tmp/pwned-${TAG}`;

let fakeBin = '';
let shellEnv: NodeJS.ProcessEnv = {};

beforeAll(() => {
  fakeBin = makeTempDir('pitr-quote-bin-');
  symlinkSync('/usr/bin/touch', join(fakeBin, 'touch'));
  writeFileSync(join(fakeBin, 'rm'), `#!/bin/sh\n/usr/bin/touch ${SENTINEL}\n`);
  chmodSync(join(fakeBin, 'rm'), 0o755);
  shellEnv = { PATH: fakeBin, HOME: '/home/quote-test', LC_ALL: 'C.UTF-8' };
});

afterAll(() => {
  removeTempDirs();
});

/** A long value that mixes every special character with ordinary text (deterministic). */
function longValue(length: number): string {
  const pool = [..."abcXYZ019 \t\n'\"`$\\!#&|;<>()[]{}*?~-=%^,.:@/", 'é', '日', '😀'];
  let seed = 12345;
  let text = '';
  while (text.length < length) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    text += pool[seed % pool.length];
  }
  return text;
}

const ADVERSARIAL: [string, string][] = [
  ['single quote', "'"],
  ['two single quotes', "''"],
  ['quote at both ends', "'x'"],
  ['double quote', '"'],
  ['command substitution', `$(touch ${SENTINEL})`],
  ['backticks', `\`touch ${SENTINEL}\``],
  ['quote then substitution', `'$(touch ${SENTINEL})'`],
  ['escaped quote then substitution', `\\'$(touch ${SENTINEL})`],
  ['parameter expansion', '${HOME}'],
  ['bare parameter', '$HOME'],
  ['IFS expansion', `$(touch\${IFS}${SENTINEL})`],
  ['ANSI-C quoting', "$'\\n'"],
  ['arithmetic', '$((1+1))'],
  ['newline', 'a\nb'],
  ['only newlines', '\n\n'],
  ['trailing newline', 'value\n'],
  ['tab', 'a\tb'],
  ['carriage return', 'a\rb'],
  ['backslash', '\\'],
  ['backslash at the end', 'abc\\'],
  ['star', '*'],
  ['question mark', '?'],
  ['bracket glob', '[a]'],
  ['tilde', '~'],
  ['tilde user', '~root/x'],
  ['-n', '-n'],
  ['--', '--'],
  ['leading dash', '-rf'],
  ['spaces', '  two  spaces  '],
  ['unicode', 'Grüße, 日本語, ĳ'],
  ['emoji', '🐘🔥'],
  ['empty string', ''],
  ['rm -rf /', ';rm -rf /'],
  ['pipe', `|touch ${SENTINEL}`],
  ['ampersand', `&touch ${SENTINEL}`],
  ['semicolon', `;touch ${SENTINEL}`],
  ['and-and', `&&touch ${SENTINEL}`],
  ['less than', `<${SENTINEL}`],
  ['greater than', `>${SENTINEL}`],
  ['history bang', '!!'],
  ['bang', '!'],
  ['hash', '#'],
  ['hash comment after space', 'a #b'],
  ['brace expansion', '{a,b}'],
  ['process substitution', `<(touch ${SENTINEL})`],
  ['heredoc marker', '<<EOF'],
  ['percent', '100%p %f %%'],
  ['equals', 'a=b'],
  ['10 kB of everything', longValue(10_000)],
];

describe('shellQuote', () => {
  it('uses single quotes and turns an embedded quote into \'\\\'\'', () => {
    expect(shellQuote('abc')).toBe("'abc'");
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote("''")).toBe("''\\'''\\'''");
    expect(shellQuote('a\nb')).toBe("'a\nb'");
  });

  it('accepts numbers', () => {
    expect(shellQuote(5432)).toBe("'5432'");
    expect(shellQuote(0)).toBe("'0'");
  });

  it('refuses a NUL byte instead of truncating', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
    expect(() => shellQuote('\0')).toThrow(/NUL/);
  });

  for (const shell of ['bash', 'dash'] as const) {
    describe(`round-trips through ${shell}`, () => {
      it.each(ADVERSARIAL)('%s', (_label, value) => {
        const result = run(`/usr/bin/${shell}`, ['-c', `printf %s ${shellQuote(value)}`], { env: shellEnv });
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        expect(result.stdout).toBe(value);
        expect(existsSync(SENTINEL)).toBe(false);
      });

      it('as an assignment, an array element and an argument next to other words', () => {
        // The way lib/common.sh uses quoted words: readonly X=<word>, readonly -a A=(<word> <word>).
        const script = ADVERSARIAL.map(([, v], i) => `readonly v${i}=${shellQuote(v)}; printf '%s|' "\${v${i}}" ${shellQuote(v)}`).join('\n');
        const wanted = ADVERSARIAL.map(([, v]) => `${v}|${v}|`).join('');
        // dash has no arrays; bash also checks them.
        const arrays = shell === 'bash'
          ? `\nreadonly -a arr=(${ADVERSARIAL.map(([, v]) => shellQuote(v)).join(' ')}); printf '%s|' "\${#arr[@]}" "\${arr[@]}"`
          : '';
        const arrayWanted = shell === 'bash' ? `${ADVERSARIAL.length}|${ADVERSARIAL.map(([, v]) => `${v}|`).join('')}` : '';
        const result = run(`/usr/bin/${shell}`, ['-c', script + arrays], { env: shellEnv });
        expect(result.stderr).toBe('');
        expect(result.status).toBe(0);
        expect(result.stdout).toBe(wanted + arrayWanted);
        expect(existsSync(SENTINEL)).toBe(false);
      });
    });
  }

  it('round-trips 300 random strings of every non-NUL byte value through bash in one go', () => {
    let seed = 7;
    const values: string[] = [];
    for (let n = 0; n < 300; n++) {
      let s = '';
      const length = n % 40;
      for (let i = 0; i < length; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        // code points 1..255 plus some beyond Latin-1; always valid UTF-8 once encoded
        const cp = seed % 10 === 0 ? 0x3000 + (seed % 500) : 1 + (seed % 255);
        s += String.fromCodePoint(cp);
      }
      values.push(s);
    }
    const script = `printf '%s\\0' ${values.map((v) => shellQuote(v)).join(' ')}`;
    const result = run('/usr/bin/bash', ['-c', script], { env: shellEnv });
    expect(result.status).toBe(0);
    expect(result.stdout.split('\0').slice(0, -1)).toEqual(values);
    expect(existsSync(SENTINEL)).toBe(false);
  });
});

/**
 * PostgreSQL's configuration lexer (src/backend/utils/misc/guc-file.l): a STRING token is
 * \'([^'\\\n]|\\.|\'\')*\'. What the value then means is asked of a real PostgreSQL 15:
 * `postgres -C NAME -D DIR` reads DIR/postgresql.conf and DIR/postgresql.auto.conf (where
 * the scripts append their settings) and prints the setting as the server would use it.
 * Custom names (pitr_test.x) are accepted as placeholders, so any string can be read.
 * It runs as the postgres OS user (PostgreSQL refuses root).
 */
const CONF_STRING_TOKEN = /^'(?:[^'\\\n]|\\.|'')*'$/s;
const POSTGRES = '/usr/lib/postgresql/15/bin/postgres';
let confDir = '';

beforeAll(() => {
  // Outside any directory the postgres user cannot enter; the data directory is 0700 and
  // owned by postgres, as PostgreSQL requires.
  const base = mkdtempSync(join(tmpdir(), 'pitr-quote-pg-'));
  chmodSync(base, 0o755);
  confDir = join(base, 'data');
  mkdirSync(confDir, { mode: 0o700 });
  writeFileSync(join(confDir, 'postgresql.conf'), '');
  return () => rmSync(base, { recursive: true, force: true });
});

/** What PostgreSQL 15 reads for each of NAMES when postgresql.auto.conf holds AUTO_CONF. */
function postgresReads(autoConf: string, names: string[]): string[] {
  writeFileSync(join(confDir, 'postgresql.auto.conf'), `${autoConf}\n`);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', confDir]);
  return names.map((name) => {
    const argv = [POSTGRES, '-C', name, '-D', confDir];
    const result = asRoot ? run('runuser', ['-u', 'postgres', '--', ...argv], { cwd: '/' }) : run(argv[0]!, argv.slice(1), { cwd: '/' });
    expect(result.stderr, `postgres -C ${name}`).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.endsWith('\n')).toBe(true);
    return result.stdout.slice(0, -1);
  });
}

describe('confQuote (postgresql.conf string literals)', () => {
  it("doubles ' and backslashes \\", () => {
    expect(confQuote('abc')).toBe("'abc'");
    expect(confQuote('')).toBe("''");
    expect(confQuote("it's")).toBe("'it''s'");
    expect(confQuote('a\\b')).toBe("'a\\\\b'");
    expect(confQuote("\\'")).toBe("'\\\\'''");
    expect(confQuote('\\n')).toBe("'\\\\n'");
  });

  it('refuses NUL, newline and carriage return (a conf value is one line)', () => {
    expect(() => confQuote('a\nb')).toThrow();
    expect(() => confQuote('a\rb')).toThrow();
    expect(() => confQuote('a\0b')).toThrow();
  });

  const values = ["'", "''", '\\', '\\\\', "\\'", "'\\", '\\n', '\\101', '%p %f %%', '$(touch /tmp/x)', '"', '# not a comment', 'tab\there', 'Grüße 🐘', longValue(2000).replace(/[\n\r]/g, ' ')];
  it('each value is one STRING token that PostgreSQL 15 reads back exactly (postgres -C)', () => {
    const lines = values.map((value, i) => {
      const token = confQuote(value);
      expect(token).toMatch(CONF_STRING_TOKEN);
      return `pitr_test.v${i} = ${token}`;
    });
    expect(postgresReads(lines.join('\n'), values.map((_v, i) => `pitr_test.v${i}`))).toEqual(values);
  }, 60_000);
});

/**
 * restore_command nests three layers: the script path is a shell word (shellQuote),
 * inside a conf string (confQuote), and PostgreSQL replaces %f, %p, %r and %% in the
 * decoded command before /bin/sh runs it. This follows the value through all three.
 */
describe('restore_command built by recoveryConfBlock', () => {
  /** PostgreSQL 15's BuildRestoreCommand: %p, %f, %r replaced, %% → %, any other % kept. */
  function substitutePlaceholders(command: string, walFile: string, walPath: string): string {
    let out = '';
    for (let i = 0; i < command.length; i++) {
      const ch = command[i];
      if (ch !== '%') {
        out += ch;
        continue;
      }
      const next = command[i + 1];
      if (next === 'p') out += walPath;
      else if (next === 'f') out += walFile;
      else if (next === 'r') out += '000000010000000000000000';
      else if (next === '%') out += '%';
      else {
        out += '%';
        continue;
      }
      i++;
    }
    return out;
  }

  function runRestoreCommand(dirName: string): { args: string[]; status: number | null; stderr: string } {
    const base = makeTempDir('pitr-restore-');
    const dir = join(base, dirName);
    mkdirSync(join(dir, 'bin'), { recursive: true });
    const script = join(dir, 'bin', 'restore-wal.sh');
    writeFileSync(script, "#!/bin/sh\nprintf '%s\\0' \"$@\"\n");
    chmodSync(script, 0o755);
    // The example plan describes a PostgreSQL 13 server; the block is read here by 15, so
    // it is compiled for 15 (13's stats_temp_directory does not exist in 15).
    const example = loadExamplePlan('realestateos-docker');
    const plan = { ...example, postgres: { ...example.postgres, version: 15 } };
    const block = recoveryConfBlock(plan, script, join(dir, 'run'), join(dir, 'side.pid'), false);
    const line = block.split('\n').find((l) => l.startsWith('restore_command = '));
    expect(line).toBeDefined();
    const token = (line as string).slice('restore_command = '.length);
    expect(token).toMatch(CONF_STRING_TOKEN);
    // The whole block, as the scripts append it, read by PostgreSQL 15 itself.
    const [restore, sockets, pidFile] = postgresReads(block, ['restore_command', 'unix_socket_directories', 'external_pid_file']);
    expect(sockets).toBe(join(dir, 'run'));
    expect(pidFile).toBe(join(dir, 'side.pid'));
    const command = substitutePlaceholders(restore!, '000000010000000000000042', 'pg_wal/RECOVERYXLOG');
    const result = run('/bin/sh', ['-c', command], { env: { PATH: fakeBin } });
    return { args: result.stdout.split('\0').slice(0, -1), status: result.status, stderr: result.stderr };
  }

  it('runs the script with the WAL file name and path, whatever the directory is called', () => {
    const result = runRestoreCommand(`it's $HOME "q" \\ ;|& \`touch ${SENTINEL}\` $(touch ${SENTINEL})`);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.args).toEqual(['000000010000000000000042', 'pg_wal/RECOVERYXLOG']);
    expect(existsSync(SENTINEL)).toBe(false);
  });

  // A '%' in workDir must be doubled, or PostgreSQL replaces "%p"/"%f" inside the script
  // path (and PostgreSQL 16+ rejects any other "%x"). The schema allows '%' in workDir.
  it('escapes % in the script path as %% (PostgreSQL substitutes %p/%f/%r anywhere in the command)', () => {
    const result = runRestoreCommand('wal-100%p-%f');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.args).toEqual(['000000010000000000000042', 'pg_wal/RECOVERYXLOG']);
  });

  /**
   * The fast path: sh copies a file already complete in the staging (or in-place)
   * directory itself. Run as PostgreSQL would, in a data directory, with a directory
   * name full of shell and conf metacharacters and PostgreSQL placeholders.
   */
  function runFastPath(setup: { staged: boolean; walDirExists: boolean }): { args: string[]; status: number | null; stderr: string; copied: string | null } {
    const base = makeTempDir('pitr-fast-path-');
    const dir = join(base, `st'a "g" %p %f %% $(touch ${SENTINEL}) \\`);
    const binDir = join(base, 'bin');
    mkdirSync(dir, { recursive: true });
    mkdirSync(binDir);
    const script = join(binDir, 'restore-wal.sh');
    writeFileSync(script, "#!/bin/sh\nprintf '%s\\0' \"$@\"\n");
    chmodSync(script, 0o755);
    const wal = '000000010000000000000042';
    if (setup.staged) writeFileSync(join(dir, wal), 'staged bytes');
    const dataDir = join(base, 'data');
    mkdirSync(setup.walDirExists ? join(dataDir, 'pg_wal') : dataDir, { recursive: true });
    const block = `restore_command = ${confQuote(restoreCommand(script, dir))}`;
    const token = block.slice('restore_command = '.length);
    expect(token).toMatch(CONF_STRING_TOKEN);
    const [restore] = postgresReads(block, ['restore_command']);
    const command = substitutePlaceholders(restore!, wal, 'pg_wal/RECOVERYXLOG');
    const result = run('/bin/sh', ['-c', command], { cwd: dataDir, env: { PATH: `${fakeBin}:/usr/bin:/bin` } });
    const target = join(dataDir, 'pg_wal', 'RECOVERYXLOG');
    return {
      args: result.stdout.split('\0').slice(0, -1),
      status: result.status,
      stderr: result.stderr,
      copied: existsSync(target) ? readFileSync(target, 'utf8') : null,
    };
  }

  it('copies a staged file with sh alone, without running the script', () => {
    const result = runFastPath({ staged: true, walDirExists: true });
    expect(result).toEqual({ args: [], status: 0, stderr: '', copied: 'staged bytes' });
    expect(existsSync(SENTINEL)).toBe(false);
  });

  it('hands a file not staged to the script with the WAL file name and path', () => {
    const result = runFastPath({ staged: false, walDirExists: true });
    expect(result).toEqual({ args: ['000000010000000000000042', 'pg_wal/RECOVERYXLOG'], status: 0, stderr: '', copied: null });
  });

  it('hands a failed copy to the script, never answering "not found" itself', () => {
    const result = runFastPath({ staged: true, walDirExists: false });
    expect(result.args).toEqual(['000000010000000000000042', 'pg_wal/RECOVERYXLOG']);
    expect(result.stderr).toContain('cp:');
    expect(existsSync(SENTINEL)).toBe(false);
  });
});

describe('shellName and shellComment', () => {
  it('shellName accepts identifiers and refuses anything else', () => {
    expect(shellName('PG_DATA_DIR')).toBe('PG_DATA_DIR');
    expect(shellName('_x1')).toBe('_x1');
    for (const bad of ['', '1X', 'A-B', 'A B', 'A;B', '$A', "A'", 'A\n', 'Ä']) expect(() => shellName(bad)).toThrow();
  });

  it('shellComment keeps a comment on one line', () => {
    expect(shellComment('a\nb\r\tc\u0000d\u007fe')).toBe('a b c d e');
    expect(shellComment('a\n\n\nb')).toBe('a b');
    const result = run('/usr/bin/bash', ['-c', `# ${shellComment(`x\ntouch ${SENTINEL}\ny`)}\nprintf ok`], { env: shellEnv });
    expect(result.stdout).toBe('ok');
    expect(existsSync(SENTINEL)).toBe(false);
  });
});
