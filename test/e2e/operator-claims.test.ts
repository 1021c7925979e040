// End to end, what README and RUNBOOK promise an operator, on ONE recovery of a real
// PostgreSQL 15 (one primary, one plan, to keep CI time low):
//
// - postgres.service.kind systemd: production is stopped and started with `systemctl`
//   (a recording stand-in that does it with the real pg_ctl); the exact calls asserted.
// - runtime k8s with an HPA: recorded, replicas scaled to 0 and back to the recording.
// - verify.http: a loopback HTTP server checks the bearer token from the named variable;
//   a 500 fails the run after the restart (and says what to do), a 200 on resume passes.
// - notify.slack: a loopback webhook receiver gets the start, failure and finish notices;
//   the webhook URL is never on any process's argv (sampled from /proc during the runs)
//   nor in the run log, and a sentinel secret in the environment is in no file the
//   scripts write.
// - run.sh without --yes: --dry-run lists the phases and changes nothing; the typed
//   confirmation before finalize (on a terminal): a wrong answer stops with production
//   unchanged (checksums), the right one goes on.
// - drill.sh with a workDir that holds %, ' and a space.
// - a writer outside the runtime block after the services stopped: finalize names the
//   table and the client and goes on only after LEAVE-WRITES is typed.

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildIncidentScenario,
  captureAppState,
  cleanupHarnessRoot,
  compileBundle,
  createHarnessRoot,
  freePort,
  installStandIns,
  k8sRuntime,
  killProcessGroup,
  PG_BIN,
  productionFingerprint,
  psqlAt,
  quiesce,
  run,
  shellQuote,
  startDetached,
  startPrimary,
  testPlan,
  waitFor,
  type DetachedRun,
  type Primary,
  type RunResult,
  type Scenario,
  type StandIns,
  type TestBundle,
} from './harness.js';

const PLAN = 'e2e-claims';
const UNIT = 'postgresql-e2e.service';
const TOKEN = `tok-${randomBytes(8).toString('hex')}`;
const WEBHOOK_SECRET = `hook${randomBytes(12).toString('hex')}`;
const SENTINEL = `sentinel-${randomBytes(12).toString('hex')}`;

interface Received {
  path: string;
  authorization: string | undefined;
  body: string;
}

function listen(handler: (req: IncomingMessage, body: string) => number): Promise<{ server: Server; port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
      res.statusCode = handler(req, body);
      res.end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    resolve({ server, port: typeof address === 'object' && address ? address.port : 0, received });
  }));
}

/** Every file under DIR (recursively), for the secret scan. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('one recovery: systemd, k8s with an HPA, verify.http, notify.slack, the typed confirmation', () => {
  let root: string;
  let primary: Primary;
  let scenario: Scenario;
  let standIns: StandIns;
  let bundle: TestBundle;
  let workDir: string;
  let health: Awaited<ReturnType<typeof listen>>;
  let slack: Awaited<ReturnType<typeof listen>>;
  let healthStatus = 200;
  const argvSamples = new Set<string>();
  let sampler: NodeJS.Timeout | undefined;
  let samples = 0;
  let rogueWriter: DetachedRun | undefined;
  const server = () => ({ socketDir: primary.socketDir, port: primary.port });
  const fingerprint = () => productionFingerprint({ server: server(), dataDir: primary.dataDir, db: scenario.db });

  beforeAll(async () => {
    root = await createHarnessRoot();
    primary = await startPrimary({ root, timezone: 'Europe/Berlin' });
    scenario = await buildIncidentScenario(primary, { layout: 'tarball' });
    await quiesce(server(), scenario.db);
    standIns = installStandIns(root);
    standIns.declareSystemdUnit(UNIT, primary.dataDir, primary.logFile);
    standIns.setReplicas('api', 3);
    standIns.setReplicas('worker', 1);
    standIns.setHpas([{ name: 'api-hpa', target: 'api', minReplicas: 2 }]);
    health = await listen((req) => (req.headers.authorization === `Bearer ${TOKEN}` ? healthStatus : 401));
    slack = await listen(() => 200);
    workDir = join(root, `wo%rk 'dir`);

    const plan = testPlan({
      name: PLAN,
      description: 'operator claims end to end',
      root, primary, scenario,
      layout: 'tarball',
      sidePort: await freePort(),
      overrides: {
        postgres: { service: { kind: 'systemd', unit: UNIT } },
        recovery: { workDir, drainTimeoutSeconds: 5 },
        runtime: k8sRuntime(['api', 'worker']),
        verify: { http: [{ url: `http://127.0.0.1:${health.port}/health`, status: 200, bearerTokenEnv: 'E2E_HEALTH_TOKEN' }] },
        notify: { slack: { webhookUrlEnv: 'E2E_SLACK_URL' } },
      },
    });
    bundle = compileBundle(root, plan, {
      pathFirst: [standIns.binDir],
      env: {
        E2E_HEALTH_TOKEN: TOKEN,
        E2E_SLACK_URL: `http://127.0.0.1:${slack.port}/services/${WEBHOOK_SECRET}`,
        PITR_E2E_SENTINEL: SENTINEL,
      },
    });

    // Sample every process's argv while the scripts run (readdir of /proc is cheap).
    sampler = setInterval(() => {
      samples += 1;
      for (const pid of readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue;
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          if (argv.includes(WEBHOOK_SECRET) || argv.includes(TOKEN) || argv.includes(SENTINEL)) argvSamples.add(`${pid}: ${argv.replaceAll('\0', ' ')}`);
        } catch {
          // the process ended meanwhile
        }
      }
    }, 25);
  }, 900_000);

  afterAll(async () => {
    if (sampler) clearInterval(sampler);
    if (rogueWriter) await killProcessGroup(rogueWriter);
    health?.server.close();
    slack?.server.close();
    await cleanupHarnessRoot(root);
  }, 120_000);

  const script = (name: string, args: string[] = []): Promise<RunResult> => bundle.run(name, args);
  /** run.sh on a terminal (script(1)), with INPUT typed: the confirmation needs a tty. */
  const onTerminal = (args: string[], input: string): Promise<RunResult> =>
    run('script', ['-qec', [join(bundle.dir, 'run.sh'), ...args].map(shellQuote).join(' '), '/dev/null'], {
      env: bundle.env,
      input,
      allowFailure: true,
      timeoutMs: 900_000,
    });
  const notices = () => slack.received.map((r) => (JSON.parse(r.body) as { text: string }).text);
  const changingCalls = () => standIns.readCalls().filter((call) => call.some((w) => ['stop', 'start', 'scale'].includes(w)));

  it('drill.sh with a workDir holding %, \' and a space recovers to the target and changes nothing', async () => {
    const before = await fingerprint();
    const result = await script('drill.sh');
    expect(result.code, result.stderr.slice(-4000)).toBe(0);
    expect(result.stderr).toContain('paused at the target');
    expect(result.stderr).toContain('verification passed');
    expect(await fingerprint()).toEqual(before);
    expect(changingCalls()).toEqual([]);
    expect(existsSync(join(workDir, 'data'))).toBe(false);
  }, 600_000);

  it('run.sh --dry-run lists every phase and changes nothing', async () => {
    const before = await fingerprint();
    const calls = standIns.readCalls().length;
    const result = await script('run.sh', ['--dry-run']);
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
    for (const phase of ['01-assess', '02-stop-services', '03-safety-backup', '04-fetch', '05-configure', '06-recover', '07-verify', '08-finalize']) {
      expect(result.stderr).toMatch(new RegExp(`dry run: would run ${phase}: `));
    }
    expect(standIns.readCalls().slice(calls).filter((call) => call.some((w) => ['stop', 'start', 'scale'].includes(w)))).toEqual([]);
    expect(await fingerprint()).toEqual(before);
    expect(slack.received).toEqual([]);
  }, 600_000);

  it('without --yes, a wrong answer at the confirmation stops before finalize: production unchanged, failure notified', async () => {
    const before = await fingerprint();
    const pidBefore = await primary.postmasterPid();
    const result = await onTerminal([], 'not-the-plan-name\n');
    expect(result.code, result.stdout.slice(-4000)).not.toBe(0);
    expect(result.stdout).toContain(`Type ${PLAN} to continue:`);
    expect(result.stdout).toContain("not confirmed (typed 'not-the-plan-name'); nothing was changed by this step");
    expect(result.stdout).toContain('phase 08-finalize failed');
    expect(await primary.postmasterPid()).toBe(pidBefore);
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.final);
    expect(await fingerprint()).toEqual(before);
    expect(standIns.readCalls().filter((c) => c[0] === 'systemctl')).toEqual([]);
    // The application was stopped by phase 02 (and stays stopped until resume or rollback).
    expect(standIns.replicas('api')).toBe(0);
    expect(notices().some((t) => t.includes('PITR started'))).toBe(true);
    expect(notices().at(-1)).toContain('PITR failed in phase 08-finalize');
  }, 900_000);

  it('a writer outside the runtime block after the services stopped: finalize names the table and the client, and stops unless LEAVE-WRITES is typed', async () => {
    // A client the k8s block does not cover (another host's cron job): it writes to the
    // plan's database after phase 02 and stays connected, idle (psql runs `sleep` in a
    // shell meanwhile). A session kept busy reports its row counts only when it goes idle:
    // the transaction counter shows its writes then (writes-compare unit test).
    const writer = startDetached('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'psql'), '-X', '-q', '-h', primary.socketDir, '-p', String(primary.port), '-d', scenario.db,
      '-c', 'INSERT INTO events (account_id) SELECT 1 FROM generate_series(1, 3)', '-c', '\\! sleep 900'], { env: { ...bundle.env, PGAPPNAME: 'rogue-writer' } });
    rogueWriter = writer;
    await waitFor(async () => (await psqlAt({ ...server(), db: scenario.db, sql: "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rogue-writer' AND state = 'idle' AND query LIKE 'INSERT INTO events%'" })) === '1', { timeoutMs: 60_000, description: 'the rogue writer' });
    const before = await fingerprint();
    const pidBefore = await primary.postmasterPid();
    const result = await onTerminal([], 'no\n');
    expect(result.code, result.stdout.slice(-4000)).not.toBe(0);
    expect(result.stdout).toContain('production was written to after the services stopped');
    expect(result.stdout).toContain(`${scenario.db}.public.events: 3 rows inserted, updated or deleted`);
    expect(result.stdout).toMatch(/\| rogue-writer \| local socket \| connected [^|]+\| idle \| INSERT INTO events \(account_id\) SELECT 1/);
    expect(result.stdout).toContain(`stay only in ${primary.dataDir}.pre-pitr-`);
    expect(result.stdout).toContain('Type LEAVE-WRITES to continue:');
    expect(result.stdout).toContain("not confirmed (typed 'no'); nothing was changed by this step");
    // Asked before the plan name: nothing was promoted, production untouched.
    expect(result.stdout).not.toContain(`Type ${PLAN} to continue:`);
    expect(await primary.postmasterPid()).toBe(pidBefore);
    expect(await fingerprint()).toEqual(before);
    expect(standIns.readCalls().filter((c) => c[0] === 'systemctl')).toEqual([]);
  }, 900_000);

  it('the right answer goes on; a 500 from verify.http fails after the restart, a 200 on resume finishes', async () => {
    healthStatus = 500;
    // LEAVE-WRITES for the writer of the test above (its rows stay in the renamed-aside
    // directory), then the plan name.
    const failed = await onTerminal([], `LEAVE-WRITES\n${PLAN}\n`);
    expect(failed.stdout).toContain('confirmed by operator: Replace production anyway?');
    // Confirmed once: the check just before production stops finds nothing new.
    expect(failed.stdout).toContain('no write on production since the services stopped (just before production stops)');
    expect(failed.code, failed.stdout.slice(-4000)).not.toBe(0);
    expect(failed.stdout).toContain('confirmed by operator');
    expect(failed.stdout).toMatch(new RegExp(`check failed: GET http://127\\.0\\.0\\.1:${health.port}/health → 500, expected 200`));
    expect(failed.stdout).toContain('1 HTTP check(s) failed after the restart: production serves the recovered data');
    expect(failed.stdout).toMatch(/next: inspect the application; when it answers, resume with .*run\.sh/);
    // Production already serves the recovered data; the failure was notified.
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);
    expect(notices().at(-1)).toContain('PITR failed in phase 08-finalize');

    healthStatus = 200;
    const resumed = await onTerminal([], '');
    expect(resumed.code, resumed.stdout.slice(-4000)).toBe(0);
    expect(resumed.stdout).toMatch(new RegExp(`ok: GET http://127\\.0\\.0\\.1:${health.port}/health → 200`));
    expect(await captureAppState(server(), scenario.db)).toEqual(scenario.expected);
    expect(notices().at(-1)).toContain('PITR finished');
    // Every health request carried the token from E2E_HEALTH_TOKEN.
    expect(health.received.length).toBeGreaterThanOrEqual(2);
    for (const r of health.received) expect(r.authorization).toBe(`Bearer ${TOKEN}`);
  }, 1_200_000);

  it('systemd: production was stopped and started with systemctl (stop, start; again on the resume)', () => {
    // The first finalize: stop, start. The resume after the failed HTTP check stops and
    // starts production once more (observed; RUNBOOK says finalize "continues at the step
    // that failed": reported to the lead as a question, not asserted away).
    expect(standIns.readCalls().filter((c) => c[0] === 'systemctl')).toEqual([
      ['systemctl', 'stop', UNIT],
      ['systemctl', 'start', UNIT],
      ['systemctl', 'stop', UNIT],
      ['systemctl', 'start', UNIT],
    ]);
  });

  it('k8s: the HPA was recorded, deployments scaled to 0 and back to the recorded replicas', () => {
    const kube = ['kubectl', '--context', 'e2e', '--namespace', 'app'];
    expect(standIns.readCalls().filter((c) => c[0] === 'kubectl')).toEqual([
      [...kube, 'get', 'deployment', 'api', '-o', 'jsonpath={.spec.replicas}'],
      [...kube, 'get', 'deployment', 'worker', '-o', 'jsonpath={.spec.replicas}'],
      [...kube, 'get', 'hpa', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.spec.scaleTargetRef.name}{"\\t"}{.spec.minReplicas}{"\\n"}{end}'],
      [...kube, 'scale', 'deployment', 'api', '--replicas=0'],
      [...kube, 'scale', 'deployment', 'worker', '--replicas=0'],
      [...kube, 'scale', 'deployment', 'api', '--replicas=3'],
      [...kube, 'scale', 'deployment', 'worker', '--replicas=1'],
    ]);
    expect(readFileSync(join(bundle.dir, 'state', 'values', 'k8s-hpas.tsv'), 'utf8')).toBe('api-hpa\tapi\t2\n');
    // What the recording requires, and at least what the HPA's minReplicas requires.
    expect(standIns.replicas('api')).toBe(3);
    expect(standIns.replicas('worker')).toBe(1);
    expect(standIns.replicas('api')).toBeGreaterThanOrEqual(2);
  });

  it('notify.slack: start, failure and finish notices; the URL and secrets on no argv, in no log or file', () => {
    const texts = notices();
    expect(texts.filter((t) => t.includes('PITR started'))).toHaveLength(1);
    expect(texts.filter((t) => t.includes('PITR failed in phase 08-finalize'))).toHaveLength(3);
    expect(texts.filter((t) => t.includes('PITR finished'))).toHaveLength(1);
    for (const r of slack.received) expect(r.path).toBe(`/services/${WEBHOOK_SECRET}`);
    // /proc was sampled every 25 ms during every run above.
    expect(samples).toBeGreaterThan(100);
    expect([...argvSamples]).toEqual([]);
    const runLog = readFileSync(join(bundle.dir, 'state', 'run.log'), 'utf8');
    expect(runLog).toContain('notified Slack');
    const written = [...filesUnder(join(bundle.dir, 'state')), ...filesUnder(workDir), ...filesUnder(join(root, 'safety')), ...filesUnder(bundle.dir)];
    expect(written.length).toBeGreaterThan(10);
    const leaks = written.filter((file) => {
      if (statSync(file).size > 64 * 1024 * 1024) return false;
      const text = readFileSync(file, 'latin1');
      return text.includes(WEBHOOK_SECRET) || text.includes(SENTINEL) || text.includes(TOKEN);
    });
    expect(leaks).toEqual([]);
  });
});
