// Live progress and pipelined WAL staging on a real recovery: the background stager
// (bulk `aws s3 cp --recursive` transfers from s3rver; file-by-file copies from a local
// gzip archive) stages exactly the needed WAL while the base backup is extracted and
// replayed; drill.sh prints staging and replay progress that reaches 100%, without
// flooding; teardown leaves no stager behind.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildIncidentScenario,
  cleanupHarnessRoot,
  compileBundle,
  createHarnessRoot,
  freePort,
  installComposeStandIns,
  run,
  s3Source,
  startPrimary,
  startS3rver,
  testPlan,
  uploadArchive,
  type PlanDocument,
  type PlanSite,
  type TestBundle,
} from './harness.js';

interface Case {
  title: string;
  source: 'local' | 's3';
  /** What the stager's log says about how it fetched. */
  stagerWay: RegExp;
}

const CASES: Case[] = [
  { title: 'S3 (s3rver), gzip WAL: bulk transfers', source: 's3', stagerWay: /staging \d+ files with 1 bulk transfer\(s\)/ },
  { title: 'local archive, gzip WAL: file by file', source: 'local', stagerWay: /fetching \d+ files one by one, 4 at a time/ },
];

const BUCKET = 'pitr-e2e-progress';
const SEGMENTS_BEFORE_TARGET = 30;

function planFor(c: Case, ctx: PlanSite & { endpoint?: string }): PlanDocument {
  return testPlan({
    ...ctx,
    name: 'progress',
    description: `progress: ${c.title}`,
    layout: 'tarball',
    walCompression: 'gzip',
    overrides: {
      source: c.source === 's3' ? s3Source(BUCKET, ctx.endpoint) : {},
      recovery: { parallelism: 4, drainTimeoutSeconds: undefined },
      safetyBackup: { pgDump: false },
    },
  });
}

/** Names in the needed list the drill's preflight wrote (segments and history files). */
function neededNames(stateDir: string): string[] {
  return readFileSync(join(stateDir, 'drill', 'values', 'wal-needed.txt'), 'utf8').split('\n').filter(Boolean).sort();
}

describe.each(CASES)('WAL staging and progress: $title', (c) => {
  let root: string;
  let bundle: TestBundle;

  beforeAll(async () => {
    root = await createHarnessRoot();
    const primary = await startPrimary({ root, timezone: 'UTC', walCompression: 'gzip' });
    const scenario = await buildIncidentScenario(primary, { layout: 'tarball', segmentsBeforeTarget: SEGMENTS_BEFORE_TARGET });
    let endpoint: string | undefined;
    if (c.source === 's3') {
      endpoint = (await startS3rver({ root })).endpoint;
      await uploadArchive(endpoint, BUCKET, primary.archiveDir);
    }
    const standIns = installComposeStandIns(root, ['api']);
    bundle = compileBundle(root, planFor(c, { root, primary, scenario, sidePort: await freePort(), endpoint }), { pathFirst: [standIns.binDir], s3: c.source === 's3' });
  }, 900_000);

  afterAll(async () => {
    await cleanupHarnessRoot(root);
  }, 120_000);

  it('drill.sh stages exactly the needed WAL in the background and reports progress to 100%', async () => {
    const stateDir = join(root, 'state');
    const drill = await bundle.run('drill.sh', ['--keep', '--state-dir', stateDir]);
    expect(drill.code, drill.stderr.slice(-4000)).toBe(0);
    const out = drill.stderr;

    // The stager was started before the base backup was extracted.
    const started = out.indexOf('WAL staging runs in the background');
    const extracting = out.indexOf('extracting ');
    expect(started).toBeGreaterThan(-1);
    expect(started).toBeLessThan(extracting);

    // Staging progress: files and bytes of the total, reaching 100%.
    const needed = neededNames(stateDir);
    expect(needed.length).toBeGreaterThan(SEGMENTS_BEFORE_TARGET);
    const staging = out.split('\n').filter((l) => l.includes('WAL staging: '));
    expect(staging.length).toBeGreaterThan(0);
    expect(staging.every((l) => /WAL staging: \d+\/\d+ files, [\d.]+ (B|KiB|MiB|GiB) of [\d.]+ (B|KiB|MiB|GiB) \(\d+%\), elapsed \d+/.test(l))).toBe(true);
    expect(out).toMatch(new RegExp(`WAL staging: ${needed.length}/${needed.length} files, .* \\(100%\\).*; complete`));

    // Replay progress ends at the pause, said as 100%.
    expect(out).toMatch(/replay: paused at the target \(100%\): replayed up to [0-9A-F]+\/[0-9A-F]+, last transaction \d{4}-/);
    // Lines every few seconds, not every poll (0.5 s).
    const replayLines = out.split('\n').filter((l) => /replay: at [0-9A-F]+\/[0-9A-F]+ \(\d+%\)/.test(l));
    const seconds = drill.durationMs / 1000;
    expect(replayLines.length).toBeLessThanOrEqual(Math.ceil(seconds / 5) + 1);

    // Exactly the needed files were staged, by the way this source stages them.
    const stagingDir = join(root, 'work', 'wal-staging');
    const staged = readdirSync(stagingDir).filter((n) => !n.startsWith('.')).sort();
    expect(staged).toEqual(needed);
    expect(existsSync(join(stagingDir, '.complete'))).toBe(true);
    expect(existsSync(join(stagingDir, '.incoming'))).toBe(false);
    const stagerLog = readFileSync(join(stagingDir, '.stager.log'), 'utf8');
    expect(stagerLog).toMatch(c.stagerWay);
    expect(stagerLog).toContain(`stager done: ${needed.length} files staged`);

    // The side instance restored every needed segment (PostgreSQL logs each restore_command
    // success), and each of them was in the staging directory, complete: restore_command
    // copies a staged file with sh alone and restore-wal.sh serves a file still in flight
    // from staging too (only a file outside the plan would be fetched from the archive).
    const sideLog = readFileSync(join(root, 'work', 'side-instance.log'), 'utf8');
    const restored = [...sideLog.matchAll(/restored log file "([0-9A-F]{24})" from archive/g)].map((m) => m[1]!);
    const neededSegments = needed.filter((n) => /^[0-9A-F]{24}$/.test(n));
    expect(restored.length).toBeGreaterThan(SEGMENTS_BEFORE_TARGET);
    expect(restored.filter((n) => !staged.includes(n))).toEqual([]);
    // Replay pauses in the target's segment: every needed segment up to it was restored.
    expect(neededSegments.filter((n) => n <= restored.at(-1)! && !restored.includes(n))).toEqual([]);
    expect(sideLog).not.toMatch(/could not fetch/);
    const teardown = await bundle.run('drill.sh', ['--teardown', '--state-dir', stateDir], { timeoutMs: 120_000 });
    expect(teardown.code, teardown.stderr).toBe(0);
    expect(existsSync(stagingDir)).toBe(false);
    const stagers = await run('pgrep', ['-f', join(root, 'work', 'bin', 'stage-wal.sh')], { allowFailure: true });
    expect(stagers.stdout.trim()).toBe('');
  }, 700_000);
});
