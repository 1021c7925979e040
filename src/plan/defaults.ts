/**
 * Defaults of optional plan fields, in one place: normalize applies them and the
 * semantic rules check the values a plan will really run with (a plan that omits
 * recovery.port still collides with a production server on 5433).
 * Each is also stated in the field's description in schema/plan.schema.json.
 */
export const DEFAULTS = {
  osUser: 'postgres',
  postgresPort: 5432,
  host: '/var/run/postgresql',
  superuser: 'postgres',
  s3Region: 'us-east-1',
  basePrefix: 'base/',
  baseLayout: 'tarball',
  walPrefix: 'wal/',
  walCompression: 'none',
  backup: 'auto',
  recoveryPort: 5433,
  parallelism: 4,
  drainTimeoutSeconds: 120,
  startTimeoutSeconds: 300,
  stallTimeoutSeconds: 600,
  runtimeKind: 'none',
  composeCommand: 'docker compose',
  safetyBackupDir: '/var/backups/postgresql',
  safetyBackupPgDump: true,
  httpStatus: 200,
  inclusive: false,
  timeline: 'latest',
} as const;

/** Debian/Ubuntu's layout; other systems set postgres.binDir. */
export function defaultBinDir(majorVersion: number): string {
  return `/usr/lib/postgresql/${majorVersion}/bin`;
}
