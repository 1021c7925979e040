/**
 * An S3 (or S3-compatible) archive through @aws-sdk/client-s3.
 *
 * Credentials come from the SDK's standard provider chain (AWS_* environment
 * variables, shared config and credentials files, SSO, instance roles); pitr never
 * reads or stores them. With an endpoint (MinIO, Ceph, s3rver, ...) requests are
 * path-style. requestChecksumCalculation WHEN_REQUIRED: S3-compatible stores that do
 * not understand the SDK's default flexible checksums otherwise misbehave.
 *
 * Every HTTP request (retries included) is counted by operation; `pitr resolve`
 * prints the counts.
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { ArchiveLocation } from '../../plan/normalized.js';
import { ArchiveAccessError, beforeStart, compareKeys, pastStop, type ArchiveObject, type ArchiveReader, type Listing, type ListOptions } from '../archive-reader.js';

export interface S3Location {
  bucket: string;
  region: string | null;
  endpoint: string | null;
}

/** The client pitr uses for a plan's source; tests add middleware to it. */
export function createS3Client({ region, endpoint }: S3Location): S3Client {
  return new S3Client({
    region: region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const PAGE_SIZE = 1000;

/** The reader for a plan's s3 source (open.ts's row for `s3`); tests pass their own client. */
export function openS3Archive(source: ArchiveLocation, client?: S3Client): ArchiveReader {
  if (!source.bucket) throw new Error('source.bucket is required for an s3 source');
  return createS3Reader({ bucket: source.bucket, region: source.region, endpoint: source.endpoint }, client);
}

export function createS3Reader(location: S3Location, client: S3Client = createS3Client(location)): ArchiveReader {
  const { bucket } = location;
  const counts: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? 'request').replace(/Command$/, '');
      counts[operation] = (counts[operation] ?? 0) + 1;
      return next(args);
    },
    // The deserialize step runs once per HTTP attempt, inside the retry loop.
    { step: 'deserialize', name: 'pitrRequestCounter', override: true },
  );
  const describe = (key: string) => `s3://${bucket}/${key}`;

  async function getObject(key: string, range?: string) {
    try {
      return await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
    } catch (error) {
      if (isNotFound(error)) return null;
      throw accessError(`cannot read ${describe(key)}`, error);
    }
  }

  return {
    kind: 's3',
    describe,

    async list(options: ListOptions): Promise<Listing> {
      const { prefix, startAfter, limit } = options;
      const objects: ArchiveObject[] = [];
      const prefixes = new Set<string>();
      let token: string | undefined;
      for (;;) {
        const remaining = limit === undefined ? PAGE_SIZE : Math.min(PAGE_SIZE, limit - objects.length);
        let page;
        try {
          page = await client.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              Delimiter: '/',
              StartAfter: token ? undefined : startAfter,
              ContinuationToken: token,
              MaxKeys: remaining,
            }),
          );
        } catch (error) {
          throw accessError(`cannot list ${describe(prefix)}`, error);
        }
        let reachedStop = false;
        const contents = [...(page.Contents ?? [])].sort((a, b) => compareKeys(a.Key ?? '', b.Key ?? ''));
        for (const item of contents) {
          const key = item.Key ?? '';
          if (beforeStart(key, options)) continue;
          if (pastStop(key, options)) {
            reachedStop = true;
            continue;
          }
          if (limit === undefined || objects.length < limit) objects.push({ key, size: Number(item.Size ?? 0), etag: unquote(item.ETag) });
        }
        for (const common of page.CommonPrefixes ?? []) {
          const value = common.Prefix ?? '';
          if (pastStop(value, options)) reachedStop = true;
          else prefixes.add(value);
        }
        const full = limit !== undefined && objects.length >= limit;
        if (!page.IsTruncated || !page.NextContinuationToken || reachedStop || full) break;
        token = page.NextContinuationToken;
      }
      objects.sort((a, b) => compareKeys(a.key, b.key));
      return { objects, prefixes: [...prefixes].sort(compareKeys) };
    },

    async read(key) {
      const response = await getObject(key);
      if (!response) return null;
      const body = Buffer.from(await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      return { object: { key, size: Number(response.ContentLength ?? body.length), etag: unquote(response.ETag) }, body };
    },

    async readHead(key, bytes) {
      const response = await getObject(key, `bytes=0-${bytes - 1}`);
      if (!response) return null;
      return Buffer.from(await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    },

    async download(key, destination) {
      const response = await getObject(key);
      if (!response) return false;
      await pipeline(response.Body as Readable, createWriteStream(destination));
      return true;
    },

    async fingerprint(object) {
      if (object.etag === null) throw new ArchiveAccessError(`${describe(object.key)} has no ETag`);
      return { etag: object.etag };
    },

    requestCounts: () => ({ ...counts }),
    close: () => client.destroy(),
  };
}

function unquote(etag: string | undefined): string | null {
  return etag === undefined ? null : etag.replace(/^"(.*)"$/, '$1');
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

function accessError(what: string, error: unknown): ArchiveAccessError {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
  let hint = 'check source.bucket, source.region and source.endpoint';
  if (e.name === 'CredentialsProviderError' || e.name === 'InvalidAccessKeyId' || e.name === 'SignatureDoesNotMatch') {
    hint = 'set AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role)';
  } else if (e.name === 'AccessDenied' || e.$metadata?.httpStatusCode === 403) {
    hint = 'the credentials in use may not read this bucket: check its policy (s3:ListBucket, s3:GetObject)';
  } else if (e.name === 'NoSuchBucket') {
    hint = 'check source.bucket';
  }
  return new ArchiveAccessError(`${what}: ${e.name ?? 'error'}: ${e.message ?? String(error)}${status}; ${hint}`);
}
