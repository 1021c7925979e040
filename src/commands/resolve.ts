/**
 * `pitr resolve PLAN`: read the plan's archive and pin the exact base backup and WAL
 * range into PLAN's lock file (plans/x.yaml → plans/x.lock.json).
 *
 * read the plan → list and read the archive (src/sources) → select the backup and
 * plan the WAL range (pure, src/archive, the same rules as the generated preflight)
 * → prove a time target reachable with pg_waldump → write the lock.
 *
 * Exit codes: 0 lock written; 1 the plan is invalid or the archive cannot serve it
 * (no qualifying backup, a WAL gap before the target, a target beyond the archive),
 * with the reason and the nearest alternatives; 2 the plan or the archive could not be
 * read (I/O, credentials, network) or an internal error.
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import { planSha256 } from '../plan/plan-json.js';
import {
  LOCK_VERSION,
  lockFileText,
  lockPathFor,
  lockSourceOf,
  type LockedObject,
  type LockedWalObject,
  type LockFile,
} from '../archive/lock.js';
import { parseTimelineChoice, selectBaseBackup, targetTimelineFor, type BackupCandidate } from '../archive/select-backup.js';
import { formatUtcMicros, parseStopTime, parseStopTimeInZone } from '../archive/stop-time.js';
import { describeChain, type ChainLink } from '../archive/timeline.js';
import {
  chainHistoryFiles,
  decideWalRange,
  scanWalRange,
  walSegmentsBetween,
  type ReachabilityProbe,
} from '../archive/wal-range.js';
import { formatLsn, segmentOf, segmentSizesConsistentWithAll } from '../archive/wal-names.js';
import type { NormalizedPlan } from '../plan/normalized.js';
import { ArchiveAccessError, compareKeys, type ArchiveObject, type ArchiveReader } from '../sources/archive-reader.js';
import { openArchive } from '../sources/open.js';
import { WalArchive, type BackupRecord, type WalFile } from '../sources/wal-archive.js';
import { WaldumpFailure, findPgWaldump, probeLatestTransaction, waldumpMajor } from '../sources/waldump-probe.js';
import { readPlan } from './read-plan.js';

export interface ResolveIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface ResolveOptions {
  /** An S3 client to use instead of one built from the plan (tests count its requests). */
  s3Client?: S3Client;
}

/** The archive cannot serve the plan: exit 1 with the reason and what to do. */
export class ResolveFailure extends Error {
  override name = 'ResolveFailure';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

interface Candidate extends BackupCandidate {
  record: BackupRecord;
}

export async function runResolve(planFile: string, io: ResolveIO, options: ResolveOptions = {}): Promise<number> {
  const read = readPlan(planFile, io, 'nothing was resolved: fix the plan first');
  if (!read.ok) return read.exitCode;
  const plan = read.plan;
  const reader = openArchive(plan.source, { s3Client: options.s3Client });
  try {
    const { lock, summary } = await resolvePlan(plan, reader);
    const lockPath = lockPathFor(planFile);
    writeFileSync(`${lockPath}.tmp`, lockFileText(lock));
    renameSync(`${lockPath}.tmp`, lockPath);
    for (const warning of lock.warnings) io.stderr(`${planFile}: warning: ${warning}\n`);
    io.stdout(`${lockPath}: ${summary}\n${describeRequests(reader)}\n`);
    return 0;
  } catch (error) {
    if (error instanceof ResolveFailure) {
      io.stderr(`${planFile}: error: ${error.message}\n  fix: ${error.hint}\n`);
      return 1;
    }
    if (error instanceof ArchiveAccessError) {
      io.stderr(`${planFile}: error: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    reader.close();
  }
}

function describeRequests(reader: ArchiveReader): string {
  const counts = Object.entries(reader.requestCounts()).sort(([a], [b]) => a.localeCompare(b));
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  const noun = reader.kind === 's3' ? 'S3 requests' : 'archive reads';
  return `  ${noun}: ${total}${counts.length > 0 ? ` (${counts.map(([op, n]) => `${op} ${n}`).join(', ')})` : ''}`;
}

/** Everything but the file I/O: the lock for `plan` from what `reader` finds. */
export async function resolvePlan(plan: NormalizedPlan, reader: ArchiveReader): Promise<{ lock: LockFile; summary: string }> {
  const archive = new WalArchive(reader, plan.source);
  const warnings: string[] = [];
  const timelineChoice = parseTimelineChoice(plan.target.timeline);

  let records = await collectBackups(archive, plan.source.backup, warnings);
  // A named incremental backup (17+) is refused: read the others too, to name the full
  // backup its chain starts from.
  if (plan.source.backup !== 'auto' && records.some((r) => r.history.incrementalFromLsn !== undefined)) {
    const others = (await collectBackups(archive, 'auto', [])).filter((r) => r.id !== plan.source.backup);
    records = [...records, ...others].sort((a, b) => compareKeys(a.historyFile.name, b.historyFile.name));
  }
  const candidates: Candidate[] = [];
  for (const record of records) {
    // The zone that wrote STOP TIME, when the plan states it, reads it as the preflight does.
    const zone = plan.postgres.logTimezone;
    const stop = zone === null ? parseStopTime(record.history.stopTime) : parseStopTimeInZone(record.history.stopTime, zone);
    if (!stop.ok) {
      warnings.push(`ignoring backup ${record.id}: ${stop.message}`);
      continue;
    }
    candidates.push({ history: record.history, stop: stop.stopTime, record });
  }

  const latest = timelineChoice === 'latest' ? (await archive.surveyTimelines()).latest : 1;
  const chains = new Map<number, ChainLink[] | string>();
  for (const candidate of candidates) {
    const timeline = targetTimelineFor(timelineChoice, candidate.history.startTimeline, latest);
    if (!chains.has(timeline)) {
      const found = await archive.chainFor(timeline);
      chains.set(timeline, typeof found === 'string' ? found : found.chain);
    }
  }
  const selection = selectBaseBackup({
    candidates,
    target: plan.target,
    choice: plan.source.backup,
    timeline: timelineChoice,
    latestTimelineInArchive: latest,
    chainFor: (timeline) => chains.get(timeline) ?? `timeline ${timeline} was not read`,
  });
  if (!selection.ok) throw new ResolveFailure(selection.message, selection.hint);
  warnings.push(...selection.warnings);
  const { backup, chain, targetTimeline } = selection;
  const { history } = backup;

  const segmentSize = await walSegmentSize(archive, records, backup.record);
  const present = await archive.listChainSegments(chain, segmentOf(history.startLsn, segmentSize), segmentSize);
  const scan = scanWalRange(history.startLsn, chain, segmentSize, new Set(present.keys()));

  let probe: ReachabilityProbe | null = null;
  if (plan.target.kind === 'time' && scan.lastContiguous >= scan.firstSegno) {
    const waldump = await findPgWaldump(plan.postgres.binDir);
    if (waldump === null) {
      warnings.push(`pg_waldump not found in ${plan.postgres.binDir} or on PATH: install the PostgreSQL ${plan.postgres.version} server programs to check that the WAL reaches the target`);
    } else {
      // pg_waldump reads only its own major's WAL: another one would fail, not find "no transaction".
      const major = await waldumpMajor(waldump);
      if (major !== plan.postgres.version) {
        throw new ResolveFailure(
          `pg_waldump (${waldump}) is ${major === null ? 'of no PostgreSQL version it would report' : `PostgreSQL ${major}`}, the plan's server is PostgreSQL ${plan.postgres.version}: it reads only its own major's WAL, and is needed to prove the time target reachable`,
          `install PostgreSQL ${plan.postgres.version}'s programs and set postgres.binDir to their directory (or put them first on PATH), then run pitr resolve again`,
        );
      }
      const names = walSegmentsBetween(scan.firstSegno, scan.lastContiguous, chain, segmentSize);
      try {
        probe = await probeLatestTransaction(archive, names, waldump);
      } catch (error) {
        if (error instanceof WaldumpFailure) throw new ResolveFailure(error.message, `check that the archive holds intact PostgreSQL ${plan.postgres.version} WAL, then run pitr resolve again`);
        throw error;
      }
    }
  }
  const decision = decideWalRange({ scan, target: plan.target, backup: history, chain, segmentSize, probe });
  if (!decision.ok) throw new ResolveFailure(decision.message, decision.hint);
  warnings.push(...decision.warnings);

  const walNames = walSegmentsBetween(decision.first, decision.last, chain, segmentSize);
  const wal: LockedWalObject[] = [];
  for (const name of walNames) {
    const object = present.get(name);
    if (!object) throw new Error(`internal: ${name} was planned but not listed`);
    wal.push({ name, ...(await lockedObject(reader, object)) });
  }
  const historyFiles: LockedWalObject[] = [];
  for (const name of chainHistoryFiles(chain)) {
    const timeline = Number.parseInt(name.slice(0, 8), 16);
    const found = await archive.chainFor(timeline);
    const file = typeof found === 'string' ? await archive.readWalFile(name) : found.file;
    if (!file) warnings.push(`${name} is not in the archive; the recovery reads timeline ${targetTimeline}'s history, which lists it`);
    else historyFiles.push(await lockedWalFile(reader, file));
  }
  const base = await archive.baseBackupObjects(backup.record.id);
  if (base.missing !== null) {
    throw new ResolveFailure(
      `base backup object missing: ${reader.describe(base.missing)} (backup ${backup.record.id} has a backup history file but no base backup)`,
      'check source.base.prefix and layout, or name another backup with source.backup',
    );
  }
  const baseObjects: LockedObject[] = [];
  for (const object of base.objects) baseObjects.push(await lockedObject(reader, object));

  const latestTransactionTime = probe?.latestTransactionMicros != null ? formatUtcMicros(probe.latestTransactionMicros) : null;
  const lock: LockFile = {
    lockVersion: LOCK_VERSION,
    plan: { name: plan.name, sha256: planSha256(plan) },
    target: { kind: plan.target.kind, value: plan.target.value, timeline: plan.target.timeline },
    source: lockSourceOf(plan),
    backup: {
      id: backup.record.id,
      startLsn: formatLsn(history.startLsn),
      stopLsn: formatLsn(history.stopLsn),
      startTimeline: history.startTimeline,
      stopTimeline: history.stopTimeline,
      startWalFile: history.startWalFile,
      stopTime: history.stopTime,
      stopTimeUtc: backup.stop.utc,
      historyFile: await lockedWalFile(reader, backup.record.historyFile),
    },
    targetTimeline,
    chain: chain.map((link) => ({ timeline: link.timeline, beginLsn: formatLsn(link.beginLsn) })),
    walSegmentSize: Number(segmentSize),
    walRange: {
      first: walNames[0]!,
      last: walNames.at(-1)!,
      segments: walNames.length,
      endsAt: decision.endsAt,
      latestTransactionTime,
    },
    objects: { base: baseObjects, history: historyFiles, wal },
    warnings,
  };
  const summary = [
    `backup ${lock.backup.id} (STOP TIME ${history.stopTime}${backup.stop.utc ? ` = ${backup.stop.utc}` : ''}, start ${lock.backup.startLsn} on timeline ${history.startTimeline})`,
    `  timeline ${targetTimeline}: ${describeChain(chain)}`,
    `  WAL ${lock.walRange.first} .. ${lock.walRange.last}: ${walNames.length} segments (${describeEnd(decision.endsAt)}${latestTransactionTime ? `; latest transaction ${latestTransactionTime}` : ''})`,
    `  objects: ${baseObjects.length} base, ${historyFiles.length} history, ${wal.length} WAL`,
  ].join('\n');
  return { lock, summary };
}

function describeEnd(endsAt: LockFile['walRange']['endsAt']): string {
  return {
    'archive-end': 'up to the end of the archive',
    gap: 'up to a gap after the target',
    'target-lsn': "up to the target LSN's segment",
    'backup-end': "up to the backup's end",
  }[endsAt];
}

/** Backup records: every base backup (auto) or the named one, each with its backup history file. */
async function collectBackups(archive: WalArchive, choice: string, warnings: string[]): Promise<BackupRecord[]> {
  const entries = choice === 'auto'
    ? await archive.listBaseBackups()
    : [{ id: choice, tarball: null, hasDirectory: true }];
  const records: BackupRecord[] = [];
  for (const entry of entries) {
    const label = await archive.readBackupLabel(entry);
    if (typeof label === 'string') {
      if (choice !== 'auto') throw new ResolveFailure(`backup ${choice} (source.backup): ${label}`, await namedBackupHint(archive));
      warnings.push(`ignoring base backup ${entry.id}: ${label}`);
      continue;
    }
    const record = await archive.readBackupHistory(entry.id, label);
    if (typeof record === 'string') {
      if (choice !== 'auto') throw new ResolveFailure(`backup ${choice} (source.backup): ${record}`, await namedBackupHint(archive));
      warnings.push(`ignoring base backup ${entry.id}: ${record}`);
      continue;
    }
    records.push(record);
  }
  if (records.length === 0 && choice === 'auto') {
    throw new ResolveFailure(
      `no base backup with a backup history file under ${archive.reader.describe(archive.layout.base.prefix)} (layout ${archive.layout.base.layout})`,
      'check source.base.prefix, source.base.layout and source.wal.prefix; base backups must be taken with archiving on (pg_basebackup does this)',
    );
  }
  // The order the preflight reads them in (the archive's names), so ties in STOP TIME go the same way.
  return records.sort((a, b) => compareKeys(a.historyFile.name, b.historyFile.name));
}

async function namedBackupHint(archive: WalArchive): Promise<string> {
  const ids = (await archive.listBaseBackups()).map((entry) => entry.id);
  return ids.length > 0
    ? `set source.backup to one of: ${ids.join(', ')}; or to auto`
    : `no base backups under ${archive.reader.describe(archive.layout.base.prefix)}: check source.base.prefix and layout`;
}

/** From the LSN/file pairs the backups name; a ranged read of a segment header when they leave it open. */
async function walSegmentSize(archive: WalArchive, records: readonly BackupRecord[], chosen: BackupRecord): Promise<bigint> {
  const pairs = records.flatMap(({ history }) => [
    { lsn: history.startLsn, file: history.startWalFile },
    { lsn: history.stopLsn, file: history.stopWalFile },
  ]);
  const sizes = segmentSizesConsistentWithAll(pairs);
  if (sizes.length === 1) return sizes[0]!;
  const fromHeader = await archive.segmentSizeOf(chosen.history.startWalFile);
  if (fromHeader !== null && (sizes.length === 0 || sizes.includes(fromHeader))) return fromHeader;
  throw new ResolveFailure(
    `cannot tell the archive's wal_segment_size: the backup history files disagree and ${chosen.history.startWalFile} has no readable header`,
    'check that every backup under source.base comes from the same cluster',
  );
}

async function lockedObject(reader: ArchiveReader, object: ArchiveObject): Promise<LockedObject> {
  return { key: object.key, size: object.size, ...(await reader.fingerprint(object)) };
}

async function lockedWalFile(reader: ArchiveReader, file: WalFile): Promise<LockedWalObject> {
  return { name: file.name, ...(await lockedObject(reader, file.object)) };
}
