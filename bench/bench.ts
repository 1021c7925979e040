// `npm run bench`: recovery speed of our generated scripts against the floor, the
// runbook's per-segment `aws s3 cp` and pgBackRest, plus `pitr compile` cold start.
// Writes BENCHMARKS.md (keeping its hand-written analysis section) and prints the same.
//
// Environment knobs (defaults in brackets): BENCH_RUNS [3] samples per method,
// BENCH_SEGMENTS [150] WAL segments after the base backup, BENCH_SCALE [30] pgbench
// scale, BENCH_PARALLELISM [4] the plans' recovery.parallelism, BENCH_METHODS [abcde],
// BENCH_COMPILE_RUNS [3] (0 skips the compile timing), BENCH_OUT [BENCHMARKS.md in the repository], BENCH_LOG_DIR [none] to keep every run's
// server log and run.log. PITR_E2E_KEEP=1 keeps the temporary root.
//
// Must run as root (PostgreSQL runs as the postgres OS user through runuser). Every
// server, s3rver and helper process it started is stopped at the end, also on failure
// and on SIGINT/SIGTERM.

import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PG_BIN, cleanEnv, run, runAsPostgres, sleep } from '../test/e2e/lib/exec.js';
import { cleanupHarnessRoot } from '../test/e2e/lib/root.js';
import { AWS_CLI, s3Env } from '../test/e2e/lib/s3.js';
import { BUCKET, PGBACKREST, buildWorkload, ensurePgBackRest, type Workload } from './setup.js';
import { compileBundle, runMethod, type MethodContext, type MethodId, type Sample } from './methods.js';
import { renderReport, type CompileTiming, type Machine } from './report.js';
import { log, median, now, seconds } from './util.js';

const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ANALYSIS_MARKER = '<!-- everything below this line is hand-written and kept by npm run bench -->';
const ROUND_ORDER: MethodId[] = ['a', 'e', 'c', 'd', 'b'];

function intFromEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number.parseInt(raw, 10);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return value;
}

async function uptime(): Promise<string> {
  return (await run('uptime', [])).stdout.trim();
}

async function timeCommand(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; asPostgres?: boolean } = {}): Promise<number> {
  const started = now();
  await run(command, args, { cwd: REPO_DIR, timeoutMs: 300_000, ...options });
  return now() - started;
}

async function timeCompile(root: string, runs: number): Promise<CompileTiming[]> {
  const timings: CompileTiming[] = [];
  if (runs === 0) return timings;
  const plan = 'plans/realestateos-docker.yaml';
  for (const flags of [[], ['--no-shellcheck']]) {
    const label = ['node bin/pitr.js compile', plan, '--out <tmp>', ...flags].join(' ');
    const samples: number[] = [];
    // Fresh processes into fresh directories.
    for (let i = 0; i < runs; i += 1) {
      const out = join(root, 'compile-timing', `${flags.length}-${i}`);
      samples.push(await timeCommand(process.execPath, [join(REPO_DIR, 'bin', 'pitr.js'), 'compile', plan, '--out', out, ...flags]));
    }
    log(`compile cold (${flags.join(' ') || 'with shellcheck'}): median ${(median(samples) / 1000).toFixed(2)} s`);
    timings.push({ label, samplesMs: samples });
  }
  // References: node's own start-up, and the CLI loading every module without compiling.
  for (const [label, args] of [
    ["node -e ''", ['-e', '']],
    ['node bin/pitr.js --version', [join(REPO_DIR, 'bin', 'pitr.js'), '--version']],
  ] as const) {
    const samples: number[] = [];
    for (let i = 0; i < runs; i += 1) samples.push(await timeCommand(process.execPath, [...args]));
    timings.push({ label, samplesMs: samples, reference: true });
  }
  return timings;
}

/** The commit the generated scripts come from, and whether templates/ or src/ had uncommitted changes. */
async function gitDescription(): Promise<string> {
  const head = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_DIR, allowFailure: true });
  const dirty = await run('git', ['status', '--porcelain', '--', 'src', 'templates'], { cwd: REPO_DIR, allowFailure: true });
  if (head.code !== 0) return 'unknown (not a git checkout)';
  const changed = dirty.stdout.trim() === '' ? 'clean' : 'with uncommitted changes in src/ or templates/';
  return `${head.stdout.trim()} (${changed})`;
}

async function describeMachine(loadBefore: string): Promise<Machine> {
  const cpuList = cpus();
  const firstLine = async (command: string, args: string[]) => {
    const result = await run(command, args, { allowFailure: true });
    return `${result.stdout}${result.stderr}`.trim().split('\n')[0] ?? '';
  };
  const awsStartupMs: number[] = [];
  for (let i = 0; i < 3; i += 1) awsStartupMs.push(await timeCommand(AWS_CLI, ['--version'], { asPostgres: true }));
  return {
    date: new Date().toISOString(),
    cpuCount: cpuList.length,
    cpus: `${cpuList.length} × ${cpuList[0]?.model ?? 'unknown'} (nproc ${(await run('nproc', [])).stdout.trim()})`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`,
    kernel: `Linux ${release()}`,
    postgres: await firstLine(join(PG_BIN, 'postgres'), ['--version']),
    aws: await firstLine(AWS_CLI, ['--version']),
    pgbackrest: (await firstLine(PGBACKREST, ['version'])).replace(/^pgBackRest /, ''),
    node: process.version,
    commit: await gitDescription(),
    loadBefore,
    loadAfter: '',
    awsStartupMs,
    awsCopyMs: [],
    awsBulkFiles: 0,
    awsBulkMs: [],
    awsBulkCpuMs: [],
    s3rverBulkCpuMs: [],
  };
}

async function timeOneAwsCopy(root: string, workload: Workload): Promise<number[]> {
  const times: number[] = [];
  const destination = join(root, 'aws-copy-probe');
  for (let i = 0; i < 3; i += 1) {
    times.push(
      await timeCommand(AWS_CLI, ['--endpoint-url', workload.s3.endpoint, 's3', 'cp', '--only-show-errors', `s3://${BUCKET}/wal/${workload.targetSegment}`, destination], {
        env: cleanEnv(s3Env()),
      }),
    );
    await rm(destination, { force: true });
  }
  return times;
}

/** bash's `times` prints two lines, the shell's and its children's user and system time, as 0m1.234s. */
function childCpuMsFromTimes(output: string): number {
  const lines = output.trim().split('\n');
  const children = lines[lines.length - 1] ?? '';
  const parts = [...children.matchAll(/(\d+)m([\d.]+)s/g)];
  if (parts.length !== 2) throw new Error(`unexpected output of bash times: ${output}`);
  return parts.reduce((sum, [, minutes, secs]) => sum + (Number(minutes) * 60 + Number(secs)) * 1000, 0);
}

function ownCpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/**
 * What one long-lived transfer costs: a single `aws s3 cp --recursive` (its own thread
 * pool, one Python start-up) of every segment from the base backup's start segment
 * through the target's, into an empty directory. A diagnostic for the staging design,
 * not one of the compared methods. Also its CPU: the aws process's (bash `times` after
 * it) and s3rver's, which runs inside this process and is the only thing here working
 * while we wait. On a 2-core machine those CPU seconds are taken from WAL replay.
 */
async function timeBulkAwsCopy(root: string, workload: Workload): Promise<Pick<Machine, 'awsBulkFiles' | 'awsBulkMs' | 'awsBulkCpuMs' | 's3rverBulkCpuMs'>> {
  const names = (await readdir(join(workload.primary.archiveDir, 'wal')))
    .filter((name) => /^[0-9A-F]{24}$/.test(name) && name >= workload.base.startWalFile && name <= workload.targetSegment)
    .sort();
  const includes = names.flatMap((name) => ['--include', name]);
  const result = { awsBulkFiles: names.length, awsBulkMs: [] as number[], awsBulkCpuMs: [] as number[], s3rverBulkCpuMs: [] as number[] };
  for (let i = 0; i < 3; i += 1) {
    const destination = join(root, `aws-bulk-probe-${i}`);
    // "$@" keeps the argument list intact; times reports the aws child's CPU.
    const script = '"$@" || exit; times';
    const awsArgs = ['--endpoint-url', workload.s3.endpoint, 's3', 'cp', '--recursive', '--only-show-errors', `s3://${BUCKET}/wal/`, destination, '--exclude', '*', ...includes];
    const cpuBefore = process.cpuUsage();
    const started = now();
    const { stdout } = await run('bash', ['-c', script, 'bulk-probe', AWS_CLI, ...awsArgs], { cwd: REPO_DIR, timeoutMs: 300_000, env: cleanEnv(s3Env()) });
    result.awsBulkMs.push(now() - started);
    result.s3rverBulkCpuMs.push(ownCpuMs(cpuBefore));
    result.awsBulkCpuMs.push(childCpuMsFromTimes(stdout));
    const copied = (await readdir(destination).catch(() => [] as string[])).length;
    if (copied !== names.length) throw new Error(`bulk aws s3 cp copied ${copied} of ${names.length} files`);
    await rm(destination, { recursive: true, force: true });
  }
  return result;
}

/** Helper processes still running with the bench root in their command line (by pid). */
async function killStrays(root: string): Promise<void> {
  const strays: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(root)) strays.push(pid);
  }
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone already
    }
  }
  if (strays.length > 0) {
    log(`stopped ${strays.length} leftover helper process(es): ${strays.join(' ')}`);
    await sleep(1_000);
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

async function writeBenchmarks(path: string, generated: string): Promise<void> {
  let analysis = '';
  if (existsSync(path)) {
    const previous = await readFile(path, 'utf8');
    const at = previous.indexOf(ANALYSIS_MARKER);
    if (at >= 0) analysis = previous.slice(at + ANALYSIS_MARKER.length);
  }
  await writeFile(path, `${generated}\n${ANALYSIS_MARKER}${analysis || '\n'}`);
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error('npm run bench must run as root: it runs PostgreSQL as the postgres OS user through runuser');
    return 2;
  }
  const options = {
    runs: intFromEnv('BENCH_RUNS', 3),
    segments: intFromEnv('BENCH_SEGMENTS', 150),
    scale: intFromEnv('BENCH_SCALE', 30),
    parallelism: intFromEnv('BENCH_PARALLELISM', 4),
    processMax: 4,
    methods: ROUND_ORDER.filter((m) => (process.env.BENCH_METHODS ?? 'abcde').includes(m)),
  };
  const outFile = process.env.BENCH_OUT ? resolve(process.env.BENCH_OUT) : join(REPO_DIR, 'BENCHMARKS.md');
  const started = now();
  const loadBefore = await uptime();
  log(`load: ${loadBefore}`);
  await ensurePgBackRest();

  const root = await mkdtemp(join(tmpdir(), 'pitr-bench-'));
  await chmod(root, 0o755);
  log(`working in ${root}`);
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    log('cleaning up: servers, s3rver, helper processes, temporary files');
    await cleanupHarnessRoot(root).catch((error: unknown) => log(`cleanup: ${String(error)}`));
    await killStrays(root);
    if (process.env.PITR_E2E_KEEP !== '1') await rm(root, { recursive: true, force: true });
  };
  // What has been measured so far: an interrupted bench still writes its report.
  const samples: Sample[] = [];
  const errors: string[] = [];
  let compile: CompileTiming[] = [];
  let machine: Machine | undefined;
  let workload: Workload | undefined;
  const writeReport = async (note?: string) => {
    if (!machine || !workload) return;
    machine.loadAfter = await uptime();
    const text = renderReport({ machine, workload, options, samples, compile, totalMs: now() - started, errors, note });
    await writeBenchmarks(outFile, text);
    process.stdout.write(`\n${text}\n`);
    log(`wrote ${outFile}`);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      log(`${signal}: stopping`);
      errors.push(`the bench was interrupted by ${signal}; the samples above are those finished before it`);
      void writeReport(`Interrupted by ${signal}: incomplete.`)
        .catch((error: unknown) => log(`report: ${String(error)}`))
        .then(cleanup)
        .finally(() => process.exit(130));
    });
  }

  try {
    compile = await timeCompile(root, intFromEnv('BENCH_COMPILE_RUNS', 3, 0));
    machine = await describeMachine(loadBefore);
    log(`aws --version as postgres: ${machine.awsStartupMs.map(seconds).join(', ')} s`);
    workload = await buildWorkload(root, options);
    machine.awsCopyMs = await timeOneAwsCopy(root, workload);
    log(`one aws s3 cp of a segment: ${machine.awsCopyMs.map(seconds).join(', ')} s`);
    Object.assign(machine, await timeBulkAwsCopy(root, workload));
    log(
      `one aws s3 cp --recursive of the ${machine.awsBulkFiles} needed segments: ${machine.awsBulkMs.map(seconds).join(', ')} s; ` +
        `CPU aws ${machine.awsBulkCpuMs.map(seconds).join(', ')} s, s3rver ${machine.s3rverBulkCpuMs.map(seconds).join(', ')} s`,
    );
    const ctx: MethodContext = {
      root,
      workload,
      processMax: options.processMax,
      logDir: process.env.BENCH_LOG_DIR ? resolve(process.env.BENCH_LOG_DIR) : undefined,
      bundles: {
        s3: await compileBundle(root, REPO_DIR, workload, 's3', options.parallelism),
        local: await compileBundle(root, REPO_DIR, workload, 'local', options.parallelism),
      },
    };
    for (let runIndex = 1; runIndex <= options.runs; runIndex += 1) {
      for (const method of options.methods) {
        try {
          samples.push(await runMethod(method, ctx, runIndex));
        } catch (error) {
          const message = `(${method}) run ${runIndex} failed: ${error instanceof Error ? error.message : String(error)}`;
          log(message);
          errors.push(message);
        }
      }
    }
    await writeReport();
    return errors.length > 0 ? 1 : 0;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
