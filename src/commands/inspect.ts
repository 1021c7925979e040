/**
 * `pitr inspect PLAN [--format text|json]`: connect to the live server the plan names
 * (with `pg`: postgres.host — a socket directory or a host name —, port, database,
 * superuser; the password from PGPASSWORD or the password file, as libpq) and check
 * the plan against it. read the plan → read the server's facts → judge them (pure,
 * src/inspect/checks.ts) → print a table (or JSON).
 *
 * Exit codes: 0 every check passed (warnings allowed), 1 a check failed (or the plan
 * is invalid), 2 the plan could not be read or the server could not be reached.
 */
import { existsSync, realpathSync } from 'node:fs';
import pg from 'pg';
import type { NormalizedPlan } from '../plan/normalized.js';
import { evaluateChecks, type Check, type ServerFacts } from '../inspect/checks.js';
import { findPassword } from '../inspect/pgpass.js';
import { readPlan } from './read-plan.js';

export interface InspectIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

export interface InspectOptions {
  format: 'text' | 'json';
}

export async function runInspect(planFile: string, options: InspectOptions, io: InspectIO): Promise<number> {
  const read = readPlan(planFile, io, 'nothing was inspected: fix the plan first');
  if (!read.ok) return read.exitCode;
  const plan = read.plan;
  const { host, port, database, superuser: user } = plan.postgres;
  const passwordSource = findPassword({ host, port, database, user });
  if (passwordSource.note) io.stderr(`${planFile}: warning: ${passwordSource.note}\n`);

  const client = new pg.Client({
    host,
    port,
    database,
    user,
    // Asked for only when the server wants a password; never logged or written.
    // Without one, an empty password makes the server say "password authentication failed".
    password: async () => passwordSource.password ?? '',
    application_name: 'pitr inspect',
    connectionTimeoutMillis: 15_000,
  });
  let facts: ServerFacts;
  try {
    await client.connect();
  } catch (error) {
    io.stderr(`${planFile}: error: ${describeConnectionError(error, plan)}\n`);
    await client.end().catch(() => {});
    return 2;
  }
  try {
    facts = await readFacts(client, plan);
  } finally {
    await client.end().catch(() => {});
  }

  const checks = evaluateChecks(plan, facts);
  const failed = checks.filter((c) => c.status === 'fail').length;
  if (options.format === 'json') {
    const counts = Object.fromEntries((['pass', 'info', 'warn', 'fail'] as const).map((s) => [s, checks.filter((c) => c.status === s).length]));
    io.stdout(`${JSON.stringify({ plan: planFile, server: { host, port, database, user }, ok: failed === 0, counts, checks }, null, 2)}\n`);
  } else {
    io.stdout(formatTable(planFile, plan, checks));
  }
  return failed > 0 ? 1 : 0;
}

async function readFacts(client: pg.Client, plan: NormalizedPlan): Promise<ServerFacts> {
  const one = async <T extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    (await client.query<T>(sql, params)).rows[0]!;
  const settings = await one<Record<string, string>>(`
    SELECT current_setting('server_version') AS server_version,
           current_setting('server_version_num') AS server_version_num,
           current_setting('data_directory') AS data_directory,
           current_setting('config_file') AS config_file,
           current_setting('TimeZone') AS timezone,
           current_setting('log_timezone') AS log_timezone,
           (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS wal_segment_size,
           current_setting('hot_standby') AS hot_standby,
           current_setting('archive_mode') AS archive_mode,
           current_setting('archive_command') AS archive_command,
           coalesce(current_setting('archive_library', true), '') AS archive_library`);
  // The abbreviation backups' STOP TIME will carry: strftime %Z in log_timezone.
  await client.query('BEGIN');
  await client.query("SELECT set_config('TimeZone', current_setting('log_timezone'), true)");
  const { abbreviation } = await one<{ abbreviation: string }>("SELECT to_char(now(), 'TZ') AS abbreviation");
  await client.query('COMMIT');
  const archiver = await one<Record<string, string | number | Date | null>>(`
    SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time
      FROM pg_stat_archiver`);

  const tableNames = [...new Set([...plan.verify.rowCounts, ...plan.verify.notAfterTarget.map((n) => n.table)])].sort();
  const tables: Record<string, boolean> = {};
  for (const table of tableNames) {
    // Names are single identifiers (as the scripts quote them), resolved in the role's search_path.
    const { found } = await one<{ found: string | null }>("SELECT to_regclass(format('%I', $1::text))::text AS found", [table]);
    tables[table] = found !== null;
  }
  const columns: ServerFacts['columns'] = [];
  for (const { table, column } of plan.verify.notAfterTarget) {
    const row = (await client.query<{ type: string }>(
      `SELECT format_type(a.atttypid, NULL) AS type FROM pg_attribute a
        WHERE a.attrelid = to_regclass(format('%I', $1::text)) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      [table, column],
    )).rows[0];
    columns.push({ table, column, type: row?.type ?? null });
  }
  const tablespaces = (await client.query<{ name: string; oid: string; location: string }>(
    `SELECT spcname AS name, oid::text AS oid, pg_tablespace_location(oid) AS location FROM pg_tablespace
      WHERE pg_tablespace_location(oid) <> '' ORDER BY oid`,
  )).rows.map((r) => ({ name: r.name, oid: r.oid, location: r.location }));
  const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : value === null || value === undefined ? null : String(value));
  return {
    serverVersion: settings.server_version!,
    serverVersionNum: Number(settings.server_version_num),
    dataDirectory: settings.data_directory!,
    dataDirectoryReal: realpathIfExists(settings.data_directory!),
    planDataDirReal: realpathIfExists(plan.postgres.dataDir),
    configFile: settings.config_file!,
    timezone: settings.timezone!,
    logTimezone: settings.log_timezone!,
    logTimezoneAbbreviation: abbreviation,
    walSegmentSizeBytes: Number(settings.wal_segment_size),
    hotStandby: settings.hot_standby!,
    archiveMode: settings.archive_mode!,
    archiveCommand: settings.archive_command!,
    archiveLibrary: settings.archive_library ?? '',
    archiver: {
      archivedCount: Number(archiver.archived_count),
      lastArchivedWal: (archiver.last_archived_wal as string | null) ?? null,
      lastArchivedTime: iso(archiver.last_archived_time),
      failedCount: Number(archiver.failed_count),
      lastFailedWal: (archiver.last_failed_wal as string | null) ?? null,
      lastFailedTime: iso(archiver.last_failed_time),
    },
    tables,
    columns,
    tablespaces,
  };
}

function realpathIfExists(path: string): string | null {
  try {
    return existsSync(path) ? realpathSync(path) : null;
  } catch {
    return null;
  }
}

/** What libpq would say, and how to fix it. */
export function describeConnectionError(error: unknown, plan: NormalizedPlan): string {
  const e = error as NodeJS.ErrnoException & { code?: string; message: string };
  const { host, port, database, superuser } = plan.postgres;
  const where = host.startsWith('/') ? `connection to server on socket "${host}/.s.PGSQL.${port}" failed` : `connection to server at "${host}", port ${port} failed`;
  const reasons: Record<string, [string, string]> = {
    ENOENT: ['No such file or directory\n\tIs the server running locally and accepting connections on that socket?', 'start the server, or fix postgres.host (socket directory) and postgres.port in the plan'],
    ECONNREFUSED: ['Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?', 'start the server, or fix postgres.host and postgres.port in the plan'],
    EACCES: ['Permission denied', 'run as a user that may open the socket (e.g. postgres), or fix postgres.host'],
    ENOTFOUND: [`could not translate host name "${host}" to address`, 'fix postgres.host in the plan'],
    ETIMEDOUT: ['timed out', 'check postgres.host, postgres.port and the network path to the server'],
    '28P01': [e.message, 'set PGPASSWORD, or add "host:port:database:user:password" to ~/.pgpass (mode 0600)'],
    '28000': [e.message, `allow role ${superuser} in pg_hba.conf, or fix postgres.superuser`],
    '3D000': [e.message, `fix postgres.database (the server has no database "${database}")`],
  };
  const known = reasons[e.code ?? ''];
  if (e.message?.includes('timeout')) return `${where}: timeout expired\n  fix: check postgres.host, postgres.port and the network path to the server`;
  if (known) return `${where}: ${known[0]}\n  fix: ${known[1]}`;
  return `${where}: ${e.message ?? String(error)}\n  fix: check postgres.host, port, database and superuser in the plan`;
}

function formatTable(planFile: string, plan: NormalizedPlan, checks: Check[]): string {
  const { host, port, database, superuser } = plan.postgres;
  const width = Math.max(5, ...checks.map((c) => c.check.length));
  const lines = [
    `${planFile}: server ${host} port ${port}, database ${database}, role ${superuser}`,
    `${'STATUS'.padEnd(6)}  ${'CHECK'.padEnd(width)}  DETAIL`,
  ];
  for (const c of checks) {
    lines.push(`${c.status.padEnd(6)}  ${c.check.padEnd(width)}  ${c.detail}`);
    if (c.fix) lines.push(`${''.padEnd(6)}  ${''.padEnd(width)}  fix: ${c.fix}`);
  }
  const count = (status: string) => checks.filter((c) => c.status === status).length;
  lines.push(`${count('fail')} failed, ${count('warn')} warnings, ${count('pass')} passed, ${count('info')} info`);
  return `${lines.join('\n')}\n`;
}
