// An S3 endpoint on loopback (s3rver, in this process), mirroring the local archive
// into it, and running Debian's aws CLI v2 (/usr/bin/aws, 2.9.x) against it the way
// a generated restore_command does: as the postgres OS user.

import S3rver from 's3rver';
import {
  CreateBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { cleanEnv, freePort, run, type RunResult } from './exec.js';

export const AWS_CLI = '/usr/bin/aws';

/** s3rver's fixed credentials (it checks signatures against them). */
const S3RVER_KEY = 'S3RVER';

export interface S3Endpoint {
  /** e.g. http://127.0.0.1:41234 — pass it to the SDK and to `aws --endpoint-url`. */
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

const runningS3rvers = new Set<S3Endpoint>();

/** s3rver on 127.0.0.1:<free port>, silent, storing objects in `<root>/s3rver`. */
export async function startS3rver({ root }: { root: string }): Promise<S3Endpoint> {
  const directory = join(root, 's3rver');
  await mkdir(directory, { recursive: true });
  const port = await freePort();
  const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory });
  await server.run();
  let stopped = false;
  const endpoint: S3Endpoint = {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      runningS3rvers.delete(endpoint);
      // close() waits for idle keep-alive sockets (the SDK keeps some); drop them.
      server.httpServer?.closeAllConnections();
      await server.close();
    },
  };
  runningS3rvers.add(endpoint);
  return endpoint;
}

export async function stopAllS3rvers(): Promise<void> {
  for (const endpoint of [...runningS3rvers]) await endpoint.stop();
}

/**
 * An SDK client for s3rver. forcePathStyle: s3rver serves http://host/bucket/key.
 * requestChecksumCalculation WHEN_REQUIRED: with the SDK's default checksums s3rver
 * stores the aws-chunked framing as the object's content.
 */
export function s3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Every file under `dir`, as paths relative to it with `/` separators, sorted. */
async function listFilesRecursively(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

/**
 * Create `bucket` (if needed) and upload every file under `localArchiveDir` with its
 * relative path as key: `<archive>/wal/X` becomes `s3://bucket/wal/X`. Bodies are
 * Buffers, not streams (see s3Client). Returns the uploaded keys.
 */
export async function uploadArchive(endpoint: string, bucket: string, localArchiveDir: string): Promise<string[]> {
  const client = s3Client(endpoint);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((error: { name?: string }) => {
      if (error.name !== 'BucketAlreadyOwnedByYou' && error.name !== 'BucketAlreadyExists') throw error;
    });
    const keys = await listFilesRecursively(localArchiveDir);
    for (const key of keys) {
      const body = await readFile(join(localArchiveDir, key));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    }
    return keys;
  } finally {
    client.destroy();
  }
}

/** All keys in a bucket (following continuation tokens), sorted. */
export async function listKeys(endpoint: string, bucket: string, prefix?: string): Promise<string[]> {
  const client = s3Client(endpoint);
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys.sort();
  } finally {
    client.destroy();
  }
}

/**
 * Environment for /usr/bin/aws (v2.9) against s3rver. aws-cli 2.9 reads no endpoint
 * from the environment (AWS_ENDPOINT_URL came in 2.13), so the endpoint must be passed
 * as `--endpoint-url`; that is deliberately left to the caller (a generated script
 * that forgets it must fail here as it would in production).
 */
export function s3Env(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: S3RVER_KEY,
    AWS_SECRET_ACCESS_KEY: S3RVER_KEY,
    AWS_DEFAULT_REGION: 'us-east-1',
    // Never ask the EC2 instance metadata service for credentials or region.
    AWS_EC2_METADATA_DISABLED: 'true',
    // Never pipe output through `less`.
    AWS_PAGER: '',
    // Ignore any ~/.aws of the user running it.
    AWS_CONFIG_FILE: '/nonexistent/pitr-e2e/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/pitr-e2e/aws-credentials',
    // aws-cli >= 2.23 adds CRC checksums by default, which s3rver cannot handle;
    // 2.9 ignores these (it sends no flexible checksums to begin with).
    AWS_REQUEST_CHECKSUM_CALCULATION: 'when_required',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
  };
}

/** `/usr/bin/aws --endpoint-url <endpoint> ...args` as the postgres OS user with s3Env(). Never rejects. */
export function runAwsAsPostgres(endpoint: string, args: string[], extraEnv: Record<string, string> = {}): Promise<RunResult> {
  return run(AWS_CLI, ['--endpoint-url', endpoint, ...args], {
    asPostgres: true,
    env: cleanEnv({ ...s3Env(), ...extraEnv }),
    allowFailure: true,
    timeoutMs: 120_000,
  });
}
