/**
 * The archive reader for a plan's source: one row per source kind, each opening the
 * reader in that kind's folder (sources/<kind>/reader.ts). The table is keyed by every
 * kind the plan's type allows, so a new kind without a row does not compile.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { ArchiveLocation } from '../plan/normalized.js';
import type { ArchiveReader } from './archive-reader.js';
import { openLocalArchive } from './local/reader.js';
import { openS3Archive } from './s3/reader.js';

export interface OpenOptions {
  /** An S3 client to use instead of the default one (tests add middleware to it). */
  s3Client?: S3Client;
}

const OPENERS: Record<ArchiveLocation['kind'], (source: ArchiveLocation, options: OpenOptions) => ArchiveReader> = {
  local: (source) => openLocalArchive(source),
  s3: (source, options) => openS3Archive(source, options.s3Client),
};

export function openArchive(source: ArchiveLocation, options: OpenOptions = {}): ArchiveReader {
  return OPENERS[source.kind](source, options);
}
