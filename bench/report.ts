// The benchmark's report: a table of medians (with every sample), the ratios against
// the issue's targets, where the time goes, and the machine — printed and written to
// BENCHMARKS.md. The bench reports; it asserts nothing.

import { METHOD_TITLES, type MethodId, type Sample } from './methods.js';
import { median, seconds } from './util.js';
import type { Workload } from './setup.js';

export interface CompileTiming {
  label: string;
  samplesMs: number[];
  /** A reference point (node start-up, module loading), not held to the target. */
  reference?: boolean;
}

export interface Machine {
  date: string;
  cpus: string;
  cpuCount: number;
  memory: string;
  kernel: string;
  postgres: string;
  aws: string;
  pgbackrest: string;
  node: string;
  /** The pitr-plan commit the scripts were compiled from. */
  commit: string;
  loadBefore: string;
  loadAfter: string;
  awsStartupMs: number[];
  awsCopyMs: number[];
  awsBulkFiles: number;
  awsBulkMs: number[];
  /** CPU (user + system) of that aws process, and of s3rver serving it. */
  awsBulkCpuMs: number[];
  s3rverBulkCpuMs: number[];
}

export interface Report {
  machine: Machine;
  workload: Workload;
  options: { runs: number; scale: number; segments: number; parallelism: number; processMax: number; methods: MethodId[] };
  samples: Sample[];
  compile: CompileTiming[];
  totalMs: number;
  errors: string[];
  /** Said at the top of the report (e.g. the run was interrupted). */
  note?: string;
}

const RATIOS: Array<{ name: string; num: MethodId; den: MethodId; op: '<=' | '>='; target: number; meaning: string }> = [
  { name: 'd/a', num: 'd', den: 'a', op: '<=', target: 1.15, meaning: 'ours from S3 vs the local floor' },
  { name: 'b/d', num: 'b', den: 'd', op: '>=', target: 5, meaning: 'the runbook vs ours from S3' },
  { name: 'd/c', num: 'd', den: 'c', op: '<=', target: 1.0, meaning: 'ours from S3 vs pgBackRest' },
  { name: 'e/a', num: 'e', den: 'a', op: '<=', target: 1.05, meaning: 'ours from a local archive vs the floor' },
];

const MB = 1024 * 1024;
const mb = (bytes: number): string => `${(bytes / MB).toFixed(0)} MB`;

function samplesOf(report: Report, method: MethodId): Sample[] {
  return report.samples.filter((s) => s.method === method).sort((x, y) => x.run - y.run);
}

function medianOf(report: Report, method: MethodId): number {
  return median(samplesOf(report, method).map((s) => s.totalMs));
}

export function renderReport(report: Report): string {
  const { machine, workload, options } = report;
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);

  push(
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${machine.date}. Each method ran ${options.runs} time(s), interleaved ` +
      '(a, e, c, d, b, then again), on one PostgreSQL 15 primary and its archive. Medians, then every sample. ' +
      'These are measurements, not tests: nothing here fails a build.',
    '',
    ...(report.note ? [`**${report.note}**`, ''] : []),
    '## Recovery: nothing extracted → server paused at the target',
    '',
    '| | method | median | samples (s) | paused per server log (median) | files restored |',
    '|---|---|---:|---|---:|---:|',
  );
  for (const method of options.methods) {
    const samples = samplesOf(report, method);
    if (samples.length === 0) {
      push(`| ${method} | ${METHOD_TITLES[method]} | — | failed | | |`);
      continue;
    }
    push(
      `| ${method} | ${METHOD_TITLES[method]} | **${seconds(medianOf(report, method))} s** | ` +
        `${samples.map((s) => seconds(s.totalMs)).join(', ')} | ${seconds(median(samples.map((s) => s.pausedMs)))} s | ` +
        `${[...new Set(samples.map((s) => s.restored))].join(', ')} |`,
    );
  }
  push(
    '',
    'What the span is, for every method: from an empty directory (nothing downloaded or extracted) to a server',
    'paused at the target (`recovery_target_action = pause`, the log line `pausing at the end of recovery`).',
    'For a, b and c the span ends when that line appears in the server log (the bench reads the log every 50 ms);',
    'for d and e it is the wall time of `run.sh --only 04-fetch`, `--only 05-configure` and `--only 06-recover`',
    '(fresh state directory each run; `00-preflight` ran just before and is not in the span), i.e. it ends when',
    "our 06-recover has itself seen the pause and exited. The column \"paused per server log\" is the server's own",
    'instant of the pause for every method, on the same clock. Three run.sh calls where a real run.sh (or drill.sh)',
    'makes one: "one run.sh call whose phase is already done" below is what each extra call costs.',
    '',
    '| ratio | measured | target | met? | |',
    '|---|---:|---:|---|---|',
  );
  for (const ratio of RATIOS) {
    const num = medianOf(report, ratio.num);
    const den = medianOf(report, ratio.den);
    const value = num / den;
    const measured = Number.isFinite(value) ? value.toFixed(2) : 'n/a';
    const met = !Number.isFinite(value) ? 'n/a' : (ratio.op === '<=' ? value <= ratio.target : value >= ratio.target) ? 'yes' : '**no**';
    push(`| ${ratio.name} | ${measured} | ${ratio.op} ${ratio.target} | ${met} | ${ratio.meaning} |`);
  }

  push('', '## Where the time goes (medians of each part)', '');
  for (const method of options.methods) {
    const samples = samplesOf(report, method);
    if (samples.length === 0) continue;
    push(`**${method}** — ${METHOD_TITLES[method]}`, '', '| part | median | samples (s) |', '|---|---:|---|');
    const names = samples[0]!.parts.map(([name]) => name);
    for (const name of names) {
      const values = samples.map((s) => s.parts.find(([n]) => n === name)?.[1] ?? Number.NaN);
      push(`| ${name} | ${seconds(median(values))} s | ${values.map(seconds).join(', ')} |`);
    }
    for (const name of samples[0]!.extra.map(([n]) => n)) {
      const values = samples.map((s) => s.extra.find(([n]) => n === name)?.[1] ?? Number.NaN);
      push(`| _${name}_ | _${seconds(median(values))} s_ | ${values.map(seconds).join(', ')} |`);
    }
    push('');
  }
  const stopLines = [...new Set(report.samples.map((s) => s.stopLine).filter((l) => l !== ''))];
  push(`Every recovery stopped at the same place: ${stopLines.length === 1 ? `\`${stopLines[0]}\`` : stopLines.map((l) => `\`${l}\``).join('; ')}.`, '');

  push(
    '## CPU during the span (medians, CPU-seconds)',
    '',
    'From /proc/stat (every CPU) and this process\'s own usage over each method\'s span. "Niced" is the user time of our',
    'WAL stager (`nice 10`: its aws transfers and finishers; nothing else here is niced; the kernel counts its system',
    'time with everyone else\'s); s3rver serves from inside the bench process; "the rest" is everything else: replay',
    '(the startup process), extraction, our scripts, pgBackRest, system time, loopback networking.',
    '',
    '| | method | wall | capacity | busy | busy % | niced user (our stager) | s3rver (bench process) | the rest |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const method of options.methods) {
    const cpus = samplesOf(report, method).flatMap((s) => (s.cpu === undefined ? [] : [{ wall: s.totalMs, ...s.cpu }]));
    if (cpus.length === 0) continue;
    const med = (pick: (c: (typeof cpus)[number]) => number): number => median(cpus.map(pick));
    const busy = med((c) => c.busyMs);
    const capacity = med((c) => c.capacityMs);
    push(
      `| ${method} | ${METHOD_TITLES[method]} | ${seconds(med((c) => c.wall))} s | ${seconds(capacity)} | ${seconds(busy)} | ` +
        `${Math.round((100 * busy) / capacity)} % | ${seconds(med((c) => c.niceMs))} | ${seconds(med((c) => c.benchProcessMs))} | ` +
        `${seconds(med((c) => c.busyMs - c.niceMs - c.benchProcessMs))} |`,
    );
  }
  push('');

  push('## `pitr compile` cold (process start to exit)', '', '| command | median | samples (s) | target |', '|---|---:|---|---|');
  for (const timing of report.compile) {
    const value = median(timing.samplesMs);
    const verdict = timing.reference ? '(reference)' : `≤ 0.5 s: ${value <= 500 ? 'yes' : '**no**'}`;
    push(`| \`${timing.label}\` | **${(value / 1000).toFixed(2)} s** | ${timing.samplesMs.map((ms) => (ms / 1000).toFixed(2)).join(', ')} | ${verdict} |`);
  }

  push(
    '',
    '## Workload',
    '',
    `- \`pgbench -i -s ${options.scale}\` (database ${mb(workload.dbBytes)}), CHECKPOINT, then the base backups: ` +
      `\`pg_basebackup -Ft -z -X none\` into \`base/bench-base.tar.gz\` (${mb(workload.tarballBytes)}; stop segment ` +
      `${workload.base.stopWalFile}) and a pgBackRest full backup ${workload.pgbackrestBackup}.`,
    `- Then pgbench rounds of 8 s (\`-c 4 -j 2\`, tpcb-like plus an UPDATE of 1,000 pgbench_accounts rows spread one per heap page, ` +
      `a CHECKPOINT after each round, so most of the WAL is full-page images) until ${options.segments} segments were written after the backups; ` +
      'a last round runs across the target time (a whole second, recorded while it runs), then `pg_switch_wal()`.',
    `- Segments after the base backup's stop segment up to the target's segment (${workload.targetSegment}), counted by name ` +
      `in the archive: **${workload.segmentsAfterBackup}**; archived after the backup in all: ${workload.segmentsArchived} ` +
      `(${mb(workload.archiveWalBytes)} of WAL in the archive, uncompressed); pgBackRest repository ${mb(workload.repoBytes)} (gz).`,
    `- Target: \`${workload.targetIso}\`, exclusive; every method uses recovery_target_time = \`${workload.targetSql}\`, ` +
      'recovery_target_inclusive off, timeline latest, action pause, its own port and socket directory, archive_mode off.',
    `- Setup (primary, backups, workload, upload to s3rver) took ${seconds(workload.setupMs)} s, of which the workload ${seconds(workload.workloadMs)} s. ` +
      `The whole bench took ${seconds(report.totalMs)} s.`,
    '',
    '## Methods in detail',
    '',
    '- **a** `tar -xzf` of the local tarball as postgres, recovery settings appended to postgresql.auto.conf, ' +
      '`recovery.signal`, `pg_ctl -W start`; `restore_command = cp <archive>/wal/%f %p`.',
    "- **b** as the runbook did it: `aws s3 cp` of the tarball from s3rver to a file, `tar -xzf`, then " +
      '`restore_command = /usr/bin/aws --endpoint-url <s3rver> s3 cp s3://<bucket>/wal/%f %p` (one aws process per file; ' +
      'the server started with the s3rver credentials in its environment).',
    `- **c** pgBackRest ${machine.pgbackrest}: local posix repository (repo1-path on the same disk; not repo1-type=s3, ` +
      "which needs TLS that s3rver does not serve here), filled by `archive-push` in the primary's archive_command " +
      `(after our archive's cp), default compression (gz). \`pgbackrest restore --type=time --target=... --target-exclusive ` +
      `--target-action=pause --process-max=${options.processMax}\` with archive-async=y in its configuration (for the ` +
      'archive-get of its restore_command) and a fresh spool directory per run, ' +
      'then the same side settings (port, socket, archive_mode off) appended, `pg_ctl -W start`.',
    `- **d** / **e** our compiled plans (\`source.kind: s3\` against s3rver through /usr/bin/aws, and \`local\`), ` +
      `\`recovery.parallelism: ${options.parallelism}\`, compiled with the shellcheck gate; \`run.sh --yes --only <phase> --state-dir <fresh>\` ` +
      'for 00-preflight (not timed in the span), 04-fetch, 05-configure, 06-recover; afterwards the side instance is stopped ' +
      'and workDir removed.',
    '- Everything reads from the same disk and, with this much memory, mostly from the page cache; s3rver runs in the ' +
      "bench's node process on loopback.",
    '',
    '## Machine',
    '',
    `- date: ${machine.date}`,
    `- CPUs: ${machine.cpus}`,
    `- memory: ${machine.memory}`,
    `- kernel: ${machine.kernel}`,
    `- ${machine.postgres}`,
    `- ${machine.aws}`,
    `- pgBackRest ${machine.pgbackrest}`,
    `- node ${machine.node}`,
    `- pitr-plan: commit ${machine.commit}`,
    `- load (uptime) before: \`${machine.loadBefore}\``,
    `- load (uptime) after: \`${machine.loadAfter}\``,
    `- \`aws --version\` as postgres (Python start-up alone): median ${seconds(median(machine.awsStartupMs))} s (${machine.awsStartupMs.map(seconds).join(', ')})`,
    `- one \`aws s3 cp\` of a 16 MB segment from s3rver: median ${seconds(median(machine.awsCopyMs))} s (${machine.awsCopyMs.map(seconds).join(', ')})`,
    `- one \`aws s3 cp --recursive\` (a single aws process, its own thread pool) of all ${machine.awsBulkFiles} segments from the ` +
      `backup's start through the target's: median ${seconds(median(machine.awsBulkMs))} s (${machine.awsBulkMs.map(seconds).join(', ')})`,
    `- CPU that transfer used (user + system): aws median ${seconds(median(machine.awsBulkCpuMs))} s (${machine.awsBulkCpuMs.map(seconds).join(', ')}), ` +
      `s3rver median ${seconds(median(machine.s3rverBulkCpuMs))} s (${machine.s3rverBulkCpuMs.map(seconds).join(', ')}): ` +
      `${seconds(median(machine.awsBulkCpuMs) + median(machine.s3rverBulkCpuMs))} CPU-seconds on ${machine.cpuCount} cores, ` +
      'taken from WAL replay while it runs (s3rver serves from this same machine)',
    '',
    'The load figures above are what the numbers were measured under; anything else running on the machine',
    'shows there. Medians of interleaved runs damp background load, they do not remove it.',
  );
  if (report.errors.length > 0) {
    push('', '## Failures during this run', '', ...report.errors.map((e) => `- ${e.split('\n')[0]}`));
  }
  return `${lines.join('\n')}\n`;
}
