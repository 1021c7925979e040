/**
 * Read access to a plan's archive (base backups and the WAL archive), the same for an
 * S3 bucket and a local directory. Keys are relative to the bucket or to source.path,
 * with `/` separators (`wal/000000010000000000000002`).
 *
 * Listing is shallow, as S3's ListObjectsV2 with Delimiter "/": objects directly below
 * the prefix's "directory" whose keys start with the prefix, and the sub-directories
 * as common prefixes. Keys come back in byte order. The reader never lists more than
 * asked: callers narrow with `prefix`, `startAfter`, `stopAfter` and `limit` so the
 * number of S3 requests follows the WAL range a plan needs, not the archive's size.
 *
 * Each kind of source is one folder (sources/<kind>/reader.ts) and one row in open.ts.
 */
import type { ArchiveLocation } from '../plan/normalized.js';

export interface ArchiveObject {
  key: string;
  size: number;
  /** S3 ETag without quotes; null for local files. */
  etag: string | null;
}

export interface ListOptions {
  prefix: string;
  /** Only keys strictly greater than this. */
  startAfter?: string;
  /** Stop once past this key: keys greater than it are not returned (nor more pages fetched). */
  stopAfter?: string;
  /** At most this many objects (S3: MaxKeys, so limit 1 costs one small request). */
  limit?: number;
}

export interface Listing {
  objects: ArchiveObject[];
  /** Sub-directories ("common prefixes"), each ending with "/". */
  prefixes: string[];
}

export interface ArchiveReader {
  readonly kind: ArchiveLocation['kind'];
  /** Where a key is, for messages: s3://bucket/key or /path/key. */
  describe(key: string): string;
  list(options: ListOptions): Promise<Listing>;
  /** The whole object, or null when it does not exist. */
  read(key: string): Promise<{ object: ArchiveObject; body: Buffer } | null>;
  /** The first `bytes` bytes (fewer if the object is shorter), or null when it does not exist. */
  readHead(key: string, bytes: number): Promise<Buffer | null>;
  /** Copy the object to a local file; false when it does not exist. */
  download(key: string, destination: string): Promise<boolean>;
  /** What the lock records to recognise the object later: the ETag (S3) or the sha256 (local). */
  fingerprint(object: ArchiveObject): Promise<{ etag: string } | { sha256: string }>;
  /** Requests made so far (S3) or directory reads (local), by operation, for the summary. */
  requestCounts(): Record<string, number>;
  close(): void;
}

/** Keys compare in byte order (S3's order); JS string comparison agrees for ASCII keys. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Whether a key comes before the listing's window: at or before `startAfter`. */
export function beforeStart(key: string, { startAfter }: ListOptions): boolean {
  return startAfter !== undefined && compareKeys(key, startAfter) <= 0;
}

/** Whether a key comes after the listing's window: past `stopAfter` (nothing later is wanted). */
export function pastStop(key: string, { stopAfter }: ListOptions): boolean {
  return stopAfter !== undefined && compareKeys(key, stopAfter) > 0;
}

export class ArchiveAccessError extends Error {
  override name = 'ArchiveAccessError';
}
