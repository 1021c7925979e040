/** The archive reader for a plan's source. */
import type { NormalizedPlan } from '../plan/normalized.js';
import type { ArchiveReader } from './archive-reader.js';
import { createLocalReader } from './local.js';
import { createS3Reader } from './s3.js';
import type { S3Client } from '@aws-sdk/client-s3';

export function openArchive(source: NormalizedPlan['source'], options: { s3Client?: S3Client } = {}): ArchiveReader {
  if (source.kind === 'local') {
    if (!source.path) throw new Error('source.path is required for a local source');
    return createLocalReader(source.path);
  }
  if (!source.bucket) throw new Error('source.bucket is required for an s3 source');
  return createS3Reader({ bucket: source.bucket, region: source.region, endpoint: source.endpoint }, options.s3Client);
}
