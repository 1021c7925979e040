/**
 * PITR_TRACE=1: every command of run.sh and its phases is traced into the run log (and
 * nowhere else), and functions that read secrets keep them out of the trace. The phases
 * are stubs (test/unit/script-bundle.ts) that notify, as the real ones do.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, removeTempDirs, run } from './compiler-helpers.js';
import { stubPhase, writeCompiledExample } from './script-bundle.js';

const PHASES = ['00-preflight', '01-assess', '02-stop-services', '03-safety-backup', '04-fetch', '05-configure', '06-recover', '07-verify', '08-finalize'];
// Sent to a port nobody listens on: the notification fails, the recovery goes on.
const SECRET_URL = 'http://127.0.0.1:9/hooks/SENTINEL-SECRET-7f3a';

let bundle = '';

beforeAll(() => {
  bundle = writeCompiledExample();
  for (const phase of PHASES) stubPhase(bundle, phase, phase === '01-assess' ? 'notify "assessed"; printf "%s\\n" traced-marker >/dev/null' : '');
});

afterAll(() => {
  removeTempDirs();
});

function runBundle(extra: NodeJS.ProcessEnv): { status: number | null; stderr: string; log: string } {
  const state = makeTempDir();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', SLACK_WEBHOOK_URL: SECRET_URL, ...extra };
  const result = run('bash', ['./run.sh', '--yes', '--state-dir', state], { cwd: bundle, env });
  return { status: result.status, stderr: result.stderr, log: readFileSync(join(state, 'run.log'), 'utf8') };
}

describe('PITR_TRACE', () => {
  it('=1 traces every command of run.sh and the phases into the run log only', () => {
    const { status, stderr, log } = runBundle({ PITR_TRACE: '1' });
    expect(status).toBe(0);
    expect(log).toMatch(/^\+ run\.sh:\d+ /m);
    expect(log).toMatch(/^\+ 01-assess\.sh:\d+ main: printf '%s\\n' traced-marker$/m);
    expect(stderr).not.toMatch(/^\+/m);
  });

  it('never writes a secret read by the scripts into the trace', () => {
    const { status, stderr, log } = runBundle({ PITR_TRACE: '1' });
    expect(status).toBe(0);
    expect(log).toContain('Slack notification failed');
    expect(log).not.toContain('SENTINEL-SECRET');
    expect(stderr).not.toContain('SENTINEL-SECRET');
  });

  it('is off unless set to 1', () => {
    for (const value of [undefined, '0', 'yes']) {
      const { status, log } = runBundle(value === undefined ? {} : { PITR_TRACE: value });
      expect(status).toBe(0);
      expect(log).not.toMatch(/^\+/m);
    }
  });
});
