// The five ways to get from "nothing extracted" to "a server paused at the target",
// each run in a fresh directory and torn down afterwards:
//   a  floor: tarball and WAL on local disk, restore_command = cp
//   b  the runbook: `aws s3 cp` of the tarball from s3rver, then tar; restore_command =
//      `aws s3 cp` per file
//   c  pgBackRest restore --type=time --target-action=pause from its local posix repo,
//      archive-async=y, process-max=4
//   d  our generated run.sh (phases 04-fetch, 05-configure, 06-recover), source s3rver
//   e  the same with a local archive
// For a-c the span ends when the server log says `pausing at the end of recovery` (the
// bench watches it every 50 ms); for d and e when 06-recover exits, having seen the
// pause itself (the operator's view). The log's own instant is recorded for every method.

import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PG_BIN, chownToPostgres, cleanEnv, freePort, run, runAsPostgres } from '../test/e2e/lib/exec.js';
import {
  appendPostgresConf,
  extractTarGzAsPostgres,
  recoveryState,
  stopServer,
} from '../test/e2e/lib/postgres.js';
import { AWS_CLI, s3Env } from '../test/e2e/lib/s3.js';
import { BASE_ID, BUCKET, type Workload } from './setup.js';
import { lineTime, log, now, readServerLogFacts, runStamped, seconds, startCpuMeter, tail, waitForPauseInLog, type CpuSpan, type StampedResult } from './util.js';

export type MethodId = 'a' | 'b' | 'c' | 'd' | 'e';

export const METHOD_TITLES: Record<MethodId, string> = {
  a: 'floor: local tarball + `cp` restore_command',
  b: 'runbook: `aws s3 cp` per segment from s3rver',
  c: 'pgBackRest restore (posix repo, archive-async, process-max=4)',
  d: 'ours: run.sh fetch+configure+recover, source S3 (s3rver)',
  e: 'ours: run.sh fetch+configure+recover, local archive',
};

export interface Sample {
  method: MethodId;
  run: number;
  /** The measured span (see the file comment). */
  totalMs: number;
  /** Start to the server log's `pausing at the end of recovery` line. */
  pausedMs: number;
  /** Named parts of the span, in order. */
  parts: Array<[string, number]>;
  /** `restored log file` lines in the server log (segments and history files replayed). */
  restored: number;
  stopLine: string;
  /** Outside the span (ours: preflight). */
  extra: Array<[string, number]>;
  /** CPU used during the span (whole machine, and this process: s3rver). */
  cpu?: CpuSpan;
}

export interface Bundle {
  kind: 's3' | 'local';
  dir: string;
  workDir: string;
  env: NodeJS.ProcessEnv;
}

export interface MethodContext {
  root: string;
  workload: Workload;
  bundles: Record<'s3' | 'local', Bundle>;
  processMax: number;
  /** BENCH_LOG_DIR: where each run's server log (and our run log) is copied, if set. */
  logDir?: string;
}

const RECOVERY_TIMEOUT_MS = 45 * 60_000;

/** Settings every recovered copy gets: its own socket and port, no archiving. */
function sideSettings(socketDir: string, port: number): Record<string, string | number> {
  return { port, unix_socket_directories: socketDir, listen_addresses: '', archive_mode: 'off', hot_standby: 'on' };
}

function targetSettings(workload: Workload, restoreCommand: string): Record<string, string> {
  return {
    restore_command: restoreCommand,
    recovery_target_time: workload.targetSql,
    recovery_target_inclusive: 'off',
    recovery_target_timeline: 'latest',
    recovery_target_action: 'pause',
  };
}

interface RunDir {
  dir: string;
  data: string;
  socketDir: string;
  logFile: string;
  port: number;
}

async function freshRunDir(root: string, name: string): Promise<RunDir> {
  const dir = join(root, 'runs', name);
  await rm(dir, { recursive: true, force: true });
  const socketDir = join(dir, 'run');
  await mkdir(socketDir, { recursive: true });
  await chownToPostgres(join(root, 'runs'));
  return { dir, data: join(dir, 'data'), socketDir, logFile: join(dir, 'server.log'), port: await freePort() };
}

/** Start without waiting (pg_ctl -W), then watch the log for the pause. Returns now() then. */
async function startAndWaitForPause(rd: RunDir, env: NodeJS.ProcessEnv): Promise<number> {
  await runAsPostgres(join(PG_BIN, 'pg_ctl'), ['-D', rd.data, '-l', rd.logFile, '-W', 'start'], { env });
  const paused = await waitForPauseInLog(rd.logFile, RECOVERY_TIMEOUT_MS);
  const state = await recoveryState({ socketDir: rd.socketDir, port: rd.port });
  if (state !== 'paused') throw new Error(`server in ${rd.data} logged the pause but reports ${state}`);
  return paused;
}

/** Keep a copy of a log for a post-mortem when BENCH_LOG_DIR is set. */
async function keepLog(ctx: MethodContext, from: string, name: string): Promise<void> {
  if (!ctx.logDir) return;
  await mkdir(ctx.logDir, { recursive: true });
  await copyFile(from, join(ctx.logDir, name)).catch(() => undefined);
}

async function finish(ctx: MethodContext, rd: RunDir, name: string): Promise<void> {
  await stopServer(rd.data);
  await keepLog(ctx, rd.logFile, `${name}-server.log`);
  await rm(rd.dir, { recursive: true, force: true });
}

async function sampleFromLog(
  method: MethodId,
  runIndex: number,
  rd: RunDir,
  t0: number,
  end: number,
  parts: Array<[string, number]>,
): Promise<Sample> {
  const facts = await readServerLogFacts(rd.logFile);
  return {
    method,
    run: runIndex,
    totalMs: end - t0,
    pausedMs: (facts.paused ?? end) - t0,
    parts,
    restored: facts.restored,
    stopLine: facts.stopLine ?? '',
    extra: [],
  };
}

/** (a) and (b): the base tarball extracted (b: downloaded first), recovery.signal, start. */
async function runPlain(method: 'a' | 'b', ctx: MethodContext, runIndex: number): Promise<Sample> {
  const { workload } = ctx;
  const rd = await freshRunDir(ctx.root, `${method}-${runIndex}`);
  const endpoint = workload.s3.endpoint;
  const env = method === 'b' ? cleanEnv(s3Env()) : cleanEnv();
  const restoreCommand =
    method === 'a'
      ? `cp ${join(workload.primary.archiveDir, 'wal')}/%f %p`
      : `${AWS_CLI} --endpoint-url ${endpoint} s3 cp s3://${BUCKET}/wal/%f %p`;
  try {
    const cpuSpan = await startCpuMeter();
    const t0 = now();
    let tarball = join(workload.primary.archiveDir, 'base', `${BASE_ID}.tar.gz`);
    if (method === 'b') {
      const downloaded = join(rd.dir, 'base.tar.gz');
      await runAsPostgres(AWS_CLI, ['--endpoint-url', endpoint, 's3', 'cp', '--only-show-errors', `s3://${BUCKET}/base/${BASE_ID}.tar.gz`, downloaded], { env });
      tarball = downloaded;
    }
    await extractTarGzAsPostgres(tarball, rd.data);
    await appendPostgresConf(join(rd.data, 'postgresql.auto.conf'), {
      ...sideSettings(rd.socketDir, rd.port),
      ...targetSettings(workload, restoreCommand),
    });
    await runAsPostgres('touch', [join(rd.data, 'recovery.signal')]);
    const tBase = now();
    const paused = await startAndWaitForPause(rd, env);
    const cpu = await cpuSpan();
    const sample = await sampleFromLog(method, runIndex, rd, t0, paused, [
      [method === 'a' ? 'base: tar -xzf' : 'base: aws s3 cp + tar -xzf', tBase - t0],
      ['start to pause (WAL via restore_command)', paused - tBase],
    ]);
    return { ...sample, cpu };
  } finally {
    await finish(ctx, rd, `${method}-${runIndex}`);
  }
}

/** (c): pgbackrest restore into an empty directory, then our side settings, then start. */
async function runPgBackRest(ctx: MethodContext, runIndex: number): Promise<Sample> {
  const { workload } = ctx;
  const rd = await freshRunDir(ctx.root, `c-${runIndex}`);
  // A spool directory per run: a queue prefetched by an earlier run must not help this one.
  const spool = join(rd.dir, 'spool');
  try {
    await mkdir(rd.data, { recursive: true, mode: 0o700 });
    await mkdir(spool, { recursive: true });
    await chownToPostgres(rd.dir);
    const cpuSpan = await startCpuMeter();
    const t0 = now();
    await workload.pgbackrest.run([
      `--pg1-path=${rd.data}`,
      `--spool-path=${spool}`,
      '--type=time',
      `--target=${workload.targetSql}`,
      '--target-exclusive',
      '--target-action=pause',
      // archive-async=y (for the archive-get calls of restore_command) is in the configuration file.
      `--process-max=${ctx.processMax}`,
      'restore',
    ]);
    await appendPostgresConf(join(rd.data, 'postgresql.auto.conf'), sideSettings(rd.socketDir, rd.port));
    const tBase = now();
    const paused = await startAndWaitForPause(rd, cleanEnv());
    const cpu = await cpuSpan();
    if (runIndex === 1) {
      const restoreCommand = await runAsPostgres(join(PG_BIN, 'psql'), ['-X', '-At', '-h', rd.socketDir, '-p', String(rd.port), '-c', 'SHOW restore_command']);
      log(`pgBackRest's restore_command: ${restoreCommand.stdout.trim()}`);
    }
    const sample = await sampleFromLog('c', runIndex, rd, t0, paused, [
      ['base: pgbackrest restore', tBase - t0],
      ['start to pause (archive-get, async)', paused - tBase],
    ]);
    return { ...sample, cpu };
  } finally {
    await finish(ctx, rd, `c-${runIndex}`);
  }
}

function failure(what: string, result: StampedResult): Error {
  return new Error(`${what} exited ${result.code ?? result.signal}\n${tail(result.lines.map((l) => l.text).join('\n'), 40)}`);
}

/** (d) and (e): our run.sh, one phase at a time, in a fresh state directory. */
async function runOurs(method: 'd' | 'e', ctx: MethodContext, runIndex: number): Promise<Sample> {
  const bundle = ctx.bundles[method === 'd' ? 's3' : 'local'];
  const runDir = join(ctx.root, 'runs', `${method}-${runIndex}`);
  const stateDir = join(runDir, 'state');
  await rm(runDir, { recursive: true, force: true });
  await mkdir(runDir, { recursive: true });
  const phase = (name: string) =>
    runStamped('bash', [join(bundle.dir, 'run.sh'), '--yes', '--only', name, '--state-dir', stateDir], {
      env: bundle.env,
      timeoutMs: RECOVERY_TIMEOUT_MS,
    });
  const sideData = join(bundle.workDir, 'data');
  const sideLog = join(bundle.workDir, 'side-instance.log');
  try {
    const preflight = await phase('00-preflight');
    if (preflight.code !== 0) throw failure('run.sh --only 00-preflight', preflight);
    const cpuSpan = await startCpuMeter();
    const t0 = now();
    const fetch = await phase('04-fetch');
    if (fetch.code !== 0) throw failure('run.sh --only 04-fetch', fetch);
    const configure = await phase('05-configure');
    if (configure.code !== 0) throw failure('run.sh --only 05-configure', configure);
    const recover = await phase('06-recover');
    if (recover.code !== 0) throw failure('run.sh --only 06-recover', recover);
    const end = now();
    const cpu = await cpuSpan();
    // The fixed cost of one run.sh call (bundle checksums, state, lock, a phase that
    // only says "already done"), for the breakdown; not in the span.
    const again = await phase('05-configure');
    // The stager starts (or, for an uncompressed local archive, in-place reading is
    // chosen) before the base backup is extracted: staging overlaps the rest.
    const stagerStarted = lineTime(fetch, /WAL staging runs in the background|read in place/) ?? fetch.start;
    const facts = await readServerLogFacts(sideLog);
    const paused = facts.paused ?? end;
    return {
      method,
      run: runIndex,
      totalMs: end - t0,
      pausedMs: paused - t0,
      parts: [
        ['04-fetch: checks and WAL stager start', stagerStarted - fetch.start],
        ['04-fetch: base backup (download + extract + checks; WAL staging alongside)', fetch.end - stagerStarted],
        ['05-configure', configure.end - configure.start],
        ['06-recover: start to pause (server log)', paused - recover.start],
        ['06-recover: pause to script exit (its 0.5 s poll, stager stop)', recover.end - paused],
      ],
      restored: facts.restored,
      stopLine: facts.stopLine ?? '',
      extra: [
        ['00-preflight (before the span)', preflight.end - preflight.start],
        ['one run.sh call whose phase is already done (after the span)', again.end - again.start],
      ],
      cpu,
    };
  } finally {
    await stopServer(sideData);
    await keepLog(ctx, join(stateDir, 'run.log'), `${method}-${runIndex}-run.log`);
    await keepLog(ctx, sideLog, `${method}-${runIndex}-server.log`);
    await rm(bundle.workDir, { recursive: true, force: true });
    await rm(runDir, { recursive: true, force: true });
  }
}

export async function runMethod(method: MethodId, ctx: MethodContext, runIndex: number): Promise<Sample> {
  log(`(${method}) run ${runIndex}: ${METHOD_TITLES[method]}`);
  const sample =
    method === 'a' || method === 'b'
      ? await runPlain(method, ctx, runIndex)
      : method === 'c'
        ? await runPgBackRest(ctx, runIndex)
        : await runOurs(method, ctx, runIndex);
  log(
    `(${method}) run ${runIndex}: ${seconds(sample.totalMs)} s (paused per server log at ${seconds(sample.pausedMs)} s; ` +
      `${sample.restored} files restored) — ${sample.parts.map(([name, ms]) => `${name} ${seconds(ms)} s`).join(', ')}`,
  );
  return sample;
}

/** Write a plan for this workload and compile it (with the shellcheck gate) into <root>/out. */
export async function compileBundle(root: string, repoDir: string, workload: Workload, kind: 's3' | 'local', parallelism: number): Promise<Bundle> {
  const name = `bench-${kind}`;
  const workDir = join(root, `work-${kind}`);
  const source =
    kind === 's3'
      ? { kind: 's3', bucket: BUCKET, region: 'us-east-1', endpoint: workload.s3.endpoint }
      : { kind: 'local', path: workload.primary.archiveDir };
  const plan = {
    version: 1,
    name,
    description: `npm run bench: recovery speed from ${kind === 's3' ? 's3rver' : 'a local archive'}`,
    target: { time: workload.targetIso, inclusive: false },
    postgres: {
      version: 15,
      database: 'postgres',
      dataDir: workload.primary.dataDir,
      osUser: 'postgres',
      port: workload.primary.port,
      host: workload.primary.socketDir,
      binDir: PG_BIN,
      service: { kind: 'pg_ctl', logFile: workload.primary.logFile },
    },
    source: { ...source, base: { prefix: 'base/', layout: 'tarball' }, wal: { prefix: 'wal/', compression: 'none' }, backup: BASE_ID },
    recovery: { workDir, port: await freePort(), parallelism },
    safetyBackup: { dir: join(root, 'safety'), pgDump: false },
  };
  const planDir = join(root, 'plans');
  await mkdir(planDir, { recursive: true });
  const planFile = join(planDir, `${name}.yaml`);
  await writeFile(planFile, stringify(plan));
  const out = join(root, 'out');
  await run(process.execPath, [join(repoDir, 'bin', 'pitr.js'), 'compile', planFile, '--out', out], { cwd: repoDir, timeoutMs: 300_000 });
  return { kind, dir: join(out, name), workDir, env: cleanEnv(kind === 's3' ? s3Env() : {}) };
}
