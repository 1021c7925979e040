/**
 * What the generated scripts print, without PostgreSQL: colour and a symbol per log
 * level only on a terminal (plain when piped, with NO_COLOR or TERM=dumb; the run log
 * always plain), and the summary table run.sh prints at the end of a run, on success, on
 * resume and on failure. The phases are stubs (test/unit/script-bundle.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDirs, run } from './compiler-helpers.js';
import { onTerminal, stubPhase, writeCompiledExample } from './script-bundle.js';

const PHASES = ['00-preflight', '01-assess', '02-stop-services', '03-safety-backup', '04-fetch', '05-configure', '06-recover', '07-verify', '08-finalize'];
const ESC = '\x1b[';
const TIME = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ';

let bundle = '';
let failing = '';

beforeAll(() => {
  bundle = writeCompiledExample();
  for (const phase of PHASES) stubPhase(bundle, phase, phase === '01-assess' ? 'sleep 1.2' : '');
  failing = writeCompiledExample();
  for (const phase of PHASES) stubPhase(failing, phase, phase === '04-fetch' ? 'fail "stub fetch failed" "stub next step"' : '');
});

afterAll(() => {
  removeTempDirs();
});

/** A clean environment: no PITR_*, no colour settings unless given. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, SHELL: '/bin/bash', LANG: 'C.UTF-8', ...extra };
}

/** Sources lib/common.sh, opens a run log in STATE and logs one line of each kind. */
const LOG_EACH_KIND = (state: string) =>
  `set -Eeuo pipefail; source lib/common.sh; STATE_DIR=${state}; state_init; PHASE_NAME=t; ` +
  'log_info hello; log_ok done; log_warn careful; log_fail broken';

const PLAIN_LINES = ['INFO [t] hello', 'INFO [t] done', 'WARN [t] careful', 'FAIL [t] broken'];

describe('log lines', () => {
  it('are plain "TIME LEVEL [phase] MESSAGE" when stderr is a pipe, even with TERM set', () => {
    const state = makeTempDir();
    const result = run('bash', ['-c', LOG_EACH_KIND(state)], { cwd: bundle, env: env({ TERM: 'xterm-256color' }) });
    expect(result.status).toBe(0);
    expect(result.stderr).not.toContain('\x1b');
    expect(result.stderr.split('\n').slice(0, -1)).toEqual(PLAIN_LINES.map((l) => expect.stringMatching(new RegExp(`^${TIME} ${l.replace(/[[\]]/g, '\\$&')}$`))));
  });

  it('get a colour and a symbol per level on a terminal; the run log stays plain', () => {
    const state = makeTempDir();
    const result = onTerminal(`bash -c '${LOG_EACH_KIND(state)}'`, env({ TERM: 'xterm-256color' }), bundle);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`${ESC}36m▸ INFO${ESC}0m [t] hello`);
    expect(result.stdout).toContain(`${ESC}32m✔ INFO${ESC}0m [t] done`);
    expect(result.stdout).toContain(`${ESC}33m⚠ WARN${ESC}0m [t] careful`);
    expect(result.stdout).toContain(`${ESC}1;31m✖ FAIL${ESC}0m [t] broken`);
    const log = readFileSync(join(state, 'run.log'), 'utf8');
    expect(log).not.toContain('\x1b');
    expect(log.split('\n').slice(0, -1).map((l) => l.replace(/^\S+ /, ''))).toEqual(PLAIN_LINES);
  });

  it.each([
    ['NO_COLOR=1', { TERM: 'xterm', NO_COLOR: '1' }],
    ['NO_COLOR=0 (any non-empty value)', { TERM: 'xterm', NO_COLOR: '0' }],
    ['TERM=dumb', { TERM: 'dumb' }],
    ['TERM unset', {}],
  ])('are plain on a terminal with %s', (_label, extra) => {
    const result = onTerminal(`bash -c '${LOG_EACH_KIND(makeTempDir())}'`, env(extra), bundle);
    expect(result.status).toBe(0);
    expect(result.stdout).not.toContain('\x1b');
    expect(result.stdout).toMatch(new RegExp(`^${TIME} INFO \\[t\\] hello$`, 'm'));
  });

  it('are coloured on a terminal when NO_COLOR is set but empty', () => {
    const result = onTerminal(`bash -c '${LOG_EACH_KIND(makeTempDir())}'`, env({ TERM: 'xterm', NO_COLOR: '' }), bundle);
    expect(result.stdout).toContain(`${ESC}32m✔ INFO${ESC}0m [t] done`);
  });
});

/** The summary rows of run.sh's stderr: after its "summary:" line, up to "total wall time". */
function summaryRows(stderr: string): string[] {
  const lines = stderr.split('\n');
  const start = lines.findIndex((l) => / INFO \[run\] summary:$/.test(l));
  expect(start, stderr).toBeGreaterThan(-1);
  const end = lines.findIndex((l, i) => i > start && /total wall time/.test(l));
  return lines.slice(start + 1, end + 1);
}

/** phase → [outcome, duration] from the table's rows. */
function summaryTable(stderr: string): Record<string, [string, string]> {
  const table: Record<string, [string, string]> = {};
  for (const row of summaryRows(stderr).slice(1, -1)) {
    const m = /^ {2}(\S+) +(ran|already done|skipped|failed|interrupted|not reached) +(\S+)$/.exec(row);
    expect(m, row).not.toBeNull();
    table[m![1]!] = [m![2]!, m![3]!];
  }
  return table;
}

describe('run.sh summary table', () => {
  const state = () => join(makeTempDir('pitr-state-'), 'state');

  it('lists every phase as ran with its duration, then the total wall time; the run log has it too', () => {
    const dir = state();
    const result = run('bash', [join(bundle, 'run.sh'), '--yes', '--state-dir', dir], { env: env({ TERM: 'xterm' }) });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('\x1b');
    const rows = summaryRows(result.stderr);
    expect(rows[0]).toBe('  phase             outcome       duration');
    expect(rows.at(-1)).toMatch(/^ {2}total wall time +\d+s$/);
    const table = summaryTable(result.stderr);
    expect(Object.keys(table)).toEqual(PHASES);
    for (const phase of PHASES) expect(table[phase]![0]).toBe('ran');
    for (const phase of PHASES) expect(table[phase]![1]).toMatch(/^\d+s$/);
    // The stub of 01-assess sleeps 1.2 s: a lower bound only (a loaded machine may add
    // any amount of start-up time, so no upper bound is asserted).
    expect(Number.parseInt(table['01-assess']![1]!, 10)).toBeGreaterThanOrEqual(1);
    expect(result.stderr.trimEnd().split('\n').at(-1)).toMatch(/ INFO \[run\] done$/);
    const log = readFileSync(join(dir, 'run.log'), 'utf8');
    for (const row of rows) expect(log).toMatch(new RegExp(`^${TIME} INFO \\[run\\] ${row.replace(/[-[\]]/g, '\\$&')}$`, 'm'));
  });

  it('a second run shows every phase as already done with the duration it took then', () => {
    const dir = state();
    const first = run('bash', [join(bundle, 'run.sh'), '--yes', '--state-dir', dir], { env: env() });
    expect(first.status, first.stderr).toBe(0);
    const again = run('bash', [join(bundle, 'run.sh'), '--yes', '--state-dir', dir], { env: env() });
    expect(again.status, again.stderr).toBe(0);
    const table = summaryTable(again.stderr);
    const before = summaryTable(first.stderr);
    for (const phase of PHASES) expect(table[phase]).toEqual(['already done', before[phase]![1]]);
  });

  it('--only runs one phase and shows the others as skipped', () => {
    const result = run('bash', [join(bundle, 'run.sh'), '--yes', '--only', 'preflight', '--state-dir', state()], { env: env() });
    expect(result.status, result.stderr).toBe(0);
    const table = summaryTable(result.stderr);
    expect(table['00-preflight']![0]).toBe('ran');
    for (const phase of PHASES.slice(1)) expect(table[phase]).toEqual(['skipped', '-']);
  });

  it('on failure: the failed phase and those not reached, printed before the failure report so next: stays last', () => {
    const result = run('bash', [join(failing, 'run.sh'), '--yes', '--state-dir', state()], { env: env() });
    expect(result.status).toBe(1);
    const table = summaryTable(result.stderr);
    for (const phase of PHASES.slice(0, 4)) expect(table[phase]![0]).toBe('ran');
    expect(table['04-fetch']![0]).toBe('failed');
    expect(table['04-fetch']![1]).toMatch(/^\d+s$/);
    for (const phase of PHASES.slice(5)) expect(table[phase]).toEqual(['not reached', '-']);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines.findIndex((l) => /summary:$/.test(l))).toBeLessThan(lines.findIndex((l) => /phase 04-fetch failed; nothing after it ran/.test(l)));
    expect(lines.at(-1)).toMatch(/ FAIL \[run\] next: /);
  });

  it('a run killed inside a phase still prints the table, with that phase interrupted', () => {
    const killed = writeCompiledExample();
    for (const phase of PHASES) stubPhase(killed, phase, phase === '02-stop-services' ? 'kill -TERM "${PPID}"; sleep 1' : '');
    const result = run('bash', [join(killed, 'run.sh'), '--yes', '--state-dir', state()], { env: env() });
    // bash runs the EXIT trap, then dies of the same signal: no exit status.
    expect(result.status).toBeNull();
    const table = summaryTable(result.stderr);
    expect(table['01-assess']![0]).toBe('ran');
    expect(table['02-stop-services']).toEqual(['interrupted', '-']);
    expect(table['03-safety-backup']).toEqual(['not reached', '-']);
  });

  it('a refusal before any phase ran prints no table: the next command stays last', () => {
    const result = run('bash', [join(bundle, 'run.sh'), '--yes', '--from', 'fetch', '--state-dir', state()], { env: env() });
    expect(result.status).toBe(1);
    expect(result.stderr).not.toContain('summary:');
    expect(result.stderr.trimEnd().split('\n').at(-1)).toMatch(/ FAIL \[run\] next: run \.\/run\.sh without --from$/);
  });

  it('is coloured on a terminal (a symbol per outcome) and plain with NO_COLOR', () => {
    const command = (dir: string) => `bash ${join(failing, 'run.sh')} --yes --state-dir ${dir}`;
    const coloured = onTerminal(command(state()), env({ TERM: 'xterm' }));
    expect(coloured.status).toBe(1);
    expect(coloured.stdout).toContain(`${ESC}32m✔${ESC}0m 00-preflight      ${ESC}32mran          ${ESC}0m`);
    expect(coloured.stdout).toContain(`${ESC}1;31m✖${ESC}0m 04-fetch          ${ESC}1;31mfailed       ${ESC}0m`);
    expect(coloured.stdout).toContain(`${ESC}2m·${ESC}0m 08-finalize       ${ESC}2mnot reached  ${ESC}0m        -`);
    const plain = onTerminal(command(state()), env({ TERM: 'xterm', NO_COLOR: '1' }));
    expect(plain.status).toBe(1);
    expect(plain.stdout).not.toContain('\x1b');
    expect(plain.stdout).toMatch(/^ {2}04-fetch +failed +\d+s$/m);
  });
});
