/**
 * The archive as `pitr resolve` reads it: base backups, their backup history files,
 * timeline history and the WAL segments of one range — each found with listings
 * narrow enough that the number of requests follows what the plan needs, not the
 * size of the archive.
 *
 * Key order is what makes this work (S3 lists in byte order; a local directory is
 * sorted the same way). Under the WAL prefix:
 *
 *   000000010000000000000002                  segments of timeline 1 ...
 *   000000010000000000000002.00000028.backup  ... each backup history file right after its start segment
 *   000000010000000000000003
 *   00000002.history                          timeline 2's history sorts BEFORE its segments ('.' < '0')
 *   000000020000000000000003                  segments of timeline 2 ...
 *
 * so history files are spread among the segments, one at the head of each timeline.
 *
 * - Timelines (for `latest`): a skip scan. List one key (MaxKeys 1) after
 *   "<wal>TTTTTTTTG" — 'G' sorts after every hex digit and after '.', so the next key
 *   is the first key of the next timeline present, and it is that timeline's history
 *   file when there is one. Requests: one per timeline in the archive, plus one.
 * - Base backups: one listing of the base prefix with Delimiter "/" (ids from
 *   <id>.tar.gz or <id>/); for each backup its backup_label (base/<id>/backup_label,
 *   else the first tar member of the base tarball, read with a 64 KiB ranged GET)
 *   gives START WAL LOCATION, hence the exact name of its backup history file
 *   <segment>.<offset>.backup, read with one GET. Requests: 1 + 2 per backup; the WAL
 *   prefix is never listed for them.
 * - WAL range: for each timeline of the chain, one listing with Prefix "<wal>TTTTTTTT"
 *   and StartAfter = the segment before the first needed one, paging (1000 keys a
 *   page) until past the last needed one (or the timeline's end when the range is
 *   open). Requests: ceil(keys in range / 1000) per timeline of the chain.
 */
import { parseBackupHistory, parseBackupLabel, type BackupHistory, type BackupLabel } from '../archive/backup-history.js';
import { firstTarMember } from '../archive/tar-head.js';
import { parseTimelineHistory, timelineChain, type ChainLink } from '../archive/timeline.js';
import {
  backupHistoryFileName,
  hex8,
  historyFileName,
  isSegmentName,
  parseBackupHistoryFileName,
  parseHistoryFileName,
  parseSegmentName,
  segmentName,
  segmentSizeFromHeader,
  segmentSizesConsistentWith,
} from '../archive/wal-names.js';
import type { ArchiveObject, ArchiveReader } from './archive-reader.js';
import { backupTarSuffix, pickBackupTar, compressionSuffix, decompressByKey, type Compression } from './decompress.js';

export interface ArchiveLayout {
  base: { prefix: string; layout: 'tarball' | 'pg_basebackup' };
  wal: { prefix: string; compression: Compression };
}

/** A file of the WAL archive: its logical name, where it is stored, and its contents. */
export interface WalFile {
  name: string;
  object: ArchiveObject;
  body: Buffer;
}

export interface TimelineSurvey {
  /** Highest N with N.history in the archive (1 when there is none). */
  latest: number;
  /** Every timeline with files in the archive, and its history file if stored. */
  timelines: Map<number, ArchiveObject | null>;
}

export interface BaseBackupEntry {
  id: string;
  /** tarball: <id>.tar.gz, when listed. */
  tarball: ArchiveObject | null;
  /** The <id>/ directory exists. */
  hasDirectory: boolean;
}

export interface BackupRecord {
  id: string;
  label: BackupLabel;
  history: BackupHistory;
  historyFile: WalFile;
}

/** The 64 KiB at the start of a gzip'd tar hold its first member (backup_label) many times over. */
const TAR_HEAD_BYTES = 64 * 1024;
const MAX_TIMELINE_PROBES = 10_000;

export class WalArchive {
  readonly suffix: string;
  private readonly chains = new Map<number, { chain: ChainLink[]; file: WalFile | null } | string>();

  constructor(
    readonly reader: ArchiveReader,
    readonly layout: ArchiveLayout,
  ) {
    this.suffix = compressionSuffix(layout.wal.compression);
  }

  /** The key of a WAL-archive file (logical name, compression suffix included when set). */
  storedKey(name: string): string {
    return `${this.layout.wal.prefix}${name}${this.suffix}`;
  }

  /** The logical name of a key under the WAL prefix (the compression suffix removed). */
  logicalName(key: string): string {
    const rest = key.slice(this.layout.wal.prefix.length);
    return this.suffix !== '' && rest.endsWith(this.suffix) ? rest.slice(0, -this.suffix.length) : rest;
  }

  /** A WAL-archive file by logical name, decompressed; the compressed name is tried first. */
  async readWalFile(name: string): Promise<WalFile | null> {
    const keys = this.suffix === '' ? [this.storedKey(name)] : [this.storedKey(name), `${this.layout.wal.prefix}${name}`];
    for (const key of keys) {
      const found = await this.reader.read(key);
      if (found) return { name, object: found.object, body: await decompressByKey(key, found.body) };
    }
    return null;
  }

  /** The timelines present, by skip scan (see the file comment). */
  async surveyTimelines(): Promise<TimelineSurvey> {
    const prefix = this.layout.wal.prefix;
    const timelines = new Map<number, ArchiveObject | null>();
    let startAfter: string | undefined;
    for (let probe = 0; probe < MAX_TIMELINE_PROBES; probe++) {
      const [first] = (await this.reader.list({ prefix, startAfter, limit: 1 })).objects;
      if (!first) break;
      const rest = first.key.slice(prefix.length);
      const head = /^[0-9A-F]{8}/.exec(rest)?.[0];
      if (head === undefined) {
        if (rest > 'F') break; // past every name that starts with a hex digit
        startAfter = first.key;
        continue;
      }
      const timeline = Number.parseInt(head, 16);
      if (timeline > 0) timelines.set(timeline, parseHistoryFileName(this.logicalName(first.key)) === timeline ? first : null);
      startAfter = `${prefix}${head}G`;
    }
    // The highest timeline the archive holds anything of: one whose history file is
    // missing is then named as such rather than passed over (the preflight's rule).
    return { latest: Math.max(1, ...timelines.keys()), timelines };
  }

  /** The chain of timelines a recovery along `timeline` follows, or why it is unknown. */
  async chainFor(timeline: number): Promise<{ chain: ChainLink[]; file: WalFile | null } | string> {
    const cached = this.chains.get(timeline);
    if (cached !== undefined) return cached;
    let result: { chain: ChainLink[]; file: WalFile | null } | string;
    if (timeline === 1) {
      result = { chain: timelineChain(1, []), file: null };
    } else {
      const file = await this.readWalFile(historyFileName(timeline));
      if (!file) {
        result = `timeline ${timeline} has no history file (${historyFileName(timeline)}) in ${this.reader.describe(this.layout.wal.prefix)}`;
      } else {
        const parsed = parseTimelineHistory(file.body.toString('utf8'));
        result = parsed.ok
          ? { chain: timelineChain(timeline, parsed.value), file }
          : `${this.reader.describe(file.object.key)} is not a timeline history file: ${parsed.message}`;
      }
    }
    this.chains.set(timeline, result);
    return result;
  }

  /** Every base backup under the base prefix, by id, in key order. */
  async listBaseBackups(): Promise<BaseBackupEntry[]> {
    const { prefix, layout } = this.layout.base;
    const listing = await this.reader.list({ prefix });
    const directories = new Set(listing.prefixes.map((p) => p.slice(prefix.length, -1)));
    if (layout === 'pg_basebackup') {
      return [...directories].map((id) => ({ id, tarball: null, hasDirectory: true }));
    }
    // <id>.tar[.gz|.zst|.lz4]; one entry per id, its tar chosen as pickBackupTar does.
    const byKey = new Map(listing.objects.map((object) => [object.key, object]));
    const ids = new Set<string>();
    for (const object of listing.objects) {
      const suffix = backupTarSuffix(object.key);
      if (suffix !== null) ids.add(object.key.slice(prefix.length, -suffix.length));
    }
    return [...ids].sort().map((id) => {
      const key = pickBackupTar(byKey.keys(), `${prefix}${id}`)!;
      return { id, tarball: byKey.get(key)!, hasDirectory: directories.has(id) };
    });
  }

  /** A backup's backup_label: the file beside the tarball, else the tarball's first member. */
  async readBackupLabel(entry: BaseBackupEntry): Promise<BackupLabel | string> {
    const { prefix, layout } = this.layout.base;
    let text: string | null = null;
    if (layout === 'tarball' && entry.hasDirectory) {
      text = (await this.reader.read(`${prefix}${entry.id}/backup_label`))?.body.toString('utf8') ?? null;
    }
    const tarKey = layout === 'tarball'
      ? entry.tarball?.key ?? `${prefix}${entry.id}.tar.gz`
      : pickBackupTar((await this.reader.list({ prefix: `${prefix}${entry.id}/` })).objects.map((o) => o.key), `${prefix}${entry.id}/base`) ??
        `${prefix}${entry.id}/base.tar.gz`;
    if (text === null) {
      const head = await this.reader.readHead(tarKey, TAR_HEAD_BYTES);
      if (!head) return `${this.reader.describe(tarKey)} does not exist`;
      let member;
      try {
        member = firstTarMember(await decompressByKey(tarKey, head, true));
      } catch (error) {
        return `cannot read the start of ${this.reader.describe(tarKey)}: ${(error as Error).message}`;
      }
      if (member?.name !== 'backup_label') {
        return `${this.reader.describe(tarKey)} does not start with backup_label (not a pg_basebackup -Ft -z tarball?)`;
      }
      text = member.content.toString('utf8');
    }
    const parsed = parseBackupLabel(text);
    return parsed.ok ? parsed.value : `the backup_label of ${entry.id} ${parsed.message}`;
  }

  /** The backup history file a backup_label points to (<segment>.<offset>.backup), checked against its LABEL. */
  async readBackupHistory(id: string, label: BackupLabel): Promise<BackupRecord | string> {
    const sizes = segmentSizesConsistentWith(label.startLsn, label.startWalFile);
    const size = sizes[0];
    if (size === undefined) {
      return `the backup_label of ${id} says START WAL LOCATION ${label.startLsn.toString(16)} is in ${label.startWalFile}, which no wal_segment_size allows`;
    }
    // Every segment size consistent with the label gives the same offset, hence the same name.
    const name = backupHistoryFileName(label.startWalFile, label.startLsn, size);
    const candidates = [name];
    let file = await this.readWalFile(name);
    if (!file) {
      // Not where the label says (renamed or copied archives): look at that segment's neighbours.
      const { objects } = await this.reader.list({ prefix: `${this.layout.wal.prefix}${label.startWalFile}.` });
      candidates.push(...objects.map((o) => this.logicalName(o.key)).filter((n) => parseBackupHistoryFileName(n) && n !== name));
      for (const other of candidates.slice(1)) {
        const found = await this.readWalFile(other);
        const parsed = found && parseBackupHistory(found.body.toString('utf8'));
        if (found && parsed?.ok && parsed.value.label === id) {
          file = found;
          break;
        }
      }
    }
    if (!file) return `backup ${id} has no backup history file ${name} in ${this.reader.describe(this.layout.wal.prefix)}`;
    const parsed = parseBackupHistory(file.body.toString('utf8'));
    if (!parsed.ok) return `${this.reader.describe(file.object.key)} is not a backup history file: it ${parsed.message}`;
    if (parsed.value.label !== id) {
      return `${this.reader.describe(file.object.key)} belongs to backup ${parsed.value.label}, not ${id}`;
    }
    return { id, label, history: parsed.value, historyFile: file };
  }

  /**
   * The segments stored for each timeline of `chain` from `firstSegno` on (the range
   * the recovery could read), by logical name. Open-ended on the chain's last timeline.
   */
  async listChainSegments(chain: readonly ChainLink[], firstSegno: bigint, segmentSize: bigint): Promise<Map<string, ArchiveObject>> {
    const prefix = this.layout.wal.prefix;
    const found = new Map<string, ArchiveObject>();
    for (const [index, link] of chain.entries()) {
      const next = chain[index + 1];
      const low = link.beginLsn / segmentSize > firstSegno ? link.beginLsn / segmentSize : firstSegno;
      const high = next === undefined ? null : next.beginLsn / segmentSize - 1n;
      if (high !== null && high < low) continue;
      const { objects } = await this.reader.list({
        prefix: `${prefix}${hex8(link.timeline)}`,
        startAfter: low > 0n ? this.storedKey(segmentName(link.timeline, low - 1n, segmentSize)) : undefined,
        // '~' sorts after the name and every suffix: the last needed segment is included.
        stopAfter: high === null ? undefined : `${prefix}${segmentName(link.timeline, high, segmentSize)}~`,
      });
      for (const object of objects) {
        const name = this.logicalName(object.key);
        if (!isSegmentName(name)) continue;
        const segment = parseSegmentName(name, segmentSize);
        if (!segment || segment.segno < low || (high !== null && segment.segno > high)) continue;
        // Stored both compressed and not: the compressed one, as the scripts prefer.
        if (!found.has(name) || object.key.endsWith(this.suffix)) found.set(name, object);
      }
    }
    return found;
  }

  /** wal_segment_size from the start of a stored segment (one small ranged read). */
  async segmentSizeOf(name: string): Promise<bigint | null> {
    const keys = this.suffix === '' ? [this.storedKey(name)] : [this.storedKey(name), `${this.layout.wal.prefix}${name}`];
    for (const key of keys) {
      const head = await this.reader.readHead(key, this.suffix === '' ? 64 : 4096);
      if (head) return segmentSizeFromHeader(await decompressByKey(key, head, true));
    }
    return null;
  }

  /** The objects of a base backup: required first, then optional ones present. */
  async baseBackupObjects(id: string): Promise<{ objects: ArchiveObject[]; missing: string | null }> {
    const { prefix, layout } = this.layout.base;
    const inDirectory = (await this.reader.list({ prefix: `${prefix}${id}/` })).objects;
    // One <oid>.tar[.gz|.zst|.lz4] per tablespace (pg_basebackup -Ft; beside a tarball's
    // backup_label), after the rest.
    const tablespaceKeys = inDirectory
      .map((o) => o.key)
      .filter((key) => /^[0-9]+\.tar(\.gz|\.zst|\.lz4)?$/.test(key.slice(`${prefix}${id}/`.length)))
      .sort();
    if (layout === 'tarball') {
      const candidates = (await this.reader.list({ prefix: `${prefix}${id}.tar` })).objects;
      const key = pickBackupTar(candidates.map((o) => o.key), `${prefix}${id}`);
      const tarball = candidates.find((o) => o.key === key);
      if (!tarball) return { objects: [], missing: `${prefix}${id}.tar.gz` };
      return { objects: [tarball, ...inDirectory.filter((o) => o.key === `${prefix}${id}/backup_label` || tablespaceKeys.includes(o.key))], missing: null };
    }
    const keys = inDirectory.map((o) => o.key);
    const base = pickBackupTar(keys, `${prefix}${id}/base`);
    if (base === null) return { objects: [], missing: `${prefix}${id}/base.tar.gz` };
    const wal = pickBackupTar(keys, `${prefix}${id}/pg_wal`);
    const wanted = [base, wal, `${prefix}${id}/backup_manifest`, ...tablespaceKeys];
    const objects = wanted.flatMap((key) => inDirectory.filter((o) => o.key === key));
    return { objects, missing: null };
  }
}
