// The incident every recovery test replays: an application database, a good base
// backup, good commits, a recorded target time, a bad "incident", a base backup
// taken AFTER the incident (automatic selection must not pick it), more commits.
//
//   initial rows ─ b1 ─ good commits ─ [~1.2 s] ─ TARGET ─ [~1.2 s] ─ incident ─ switch ─ b2 ─ later commits ─ switch
//
// What must come back is captured from the primary right before the target is
// recorded, with the same function the tests use on the recovered server.

import { takeBaseBackup, type BackupHistory, type BaseBackupLayout, type TakeBaseBackupOptions } from './archive.js';
import { sleep } from './exec.js';
import { psqlAt, quoteIdent, type Primary, type ServerAddress } from './postgres.js';

/** The application's table and column names (any characters: always quoted). */
export interface AppNames {
  /** Default accounts. */
  accounts: string;
  /** Default events. */
  events: string;
  /** The timestamp column of both tables; default created_at. */
  createdAt: string;
}

export const DEFAULT_APP_NAMES: AppNames = { accounts: 'accounts', events: 'events', createdAt: 'created_at' };

export interface AppState {
  /** Every account, sorted by id. */
  accounts: Array<{ id: number; name: string }>;
  accountIds: number[];
  eventsCount: number;
  /** Every event's id, sorted: the rows themselves, not only how many (a count can match by chance). */
  eventIds: number[];
}

/** Read the application tables' state from any server (primary, recovered, side instance). */
export async function captureAppState(server: ServerAddress, db: string, names: AppNames = DEFAULT_APP_NAMES): Promise<AppState> {
  const accountsJson = await psqlAt({
    ...server,
    db,
    sql: `SELECT coalesce(json_agg(json_build_object('id', id, 'name', name) ORDER BY id), '[]') FROM ${quoteIdent(names.accounts)}`,
  });
  const accounts = JSON.parse(accountsJson) as Array<{ id: number; name: string }>;
  const eventsCount = Number(await psqlAt({ ...server, db, sql: `SELECT count(*) FROM ${quoteIdent(names.events)}` }));
  const eventIds = JSON.parse(
    await psqlAt({ ...server, db, sql: `SELECT coalesce(json_agg(id ORDER BY id), '[]') FROM ${quoteIdent(names.events)}` }),
  ) as number[];
  return { accounts, accountIds: accounts.map((a) => a.id), eventsCount, eventIds };
}

export interface RecoveryTarget {
  /** ISO 8601 with milliseconds and an offset that is NOT the server's, e.g. 2024-01-15T00:30:00.123-05:00. */
  written: string;
  /** The same instant. */
  epochMs: number;
  /** The offset used in `written`, e.g. -05:00. */
  writtenOffset: string;
  /** The server's own offset at that instant, e.g. +09:00. */
  serverOffset: string;
  /**
   * The WAL insert position at that instant (pg_current_wal_insert_lsn()): the same
   * target as an lsn, for majors whose WAL 15's pg_waldump cannot read.
   */
  lsn: string;
  /**
   * The same target as an xid: a transaction that only took an xid, committed right
   * after `lsn` (recovery_target_xid with inclusive false stops before its commit).
   */
  xid: string;
  /** The same target as a restore point (pg_create_restore_point), created after that xid. */
  restorePoint: string;
}

export interface Scenario {
  /** The application database's name (may be hostile: quote it). */
  db: string;
  /** The application's table and column names (may be hostile: quote them). */
  names: AppNames;
  target: RecoveryTarget;
  /** The state at the target: what a correct recovery brings back. */
  expected: AppState;
  /** The primary's state at the end (after the incident and later commits). */
  final: AppState;
  /** Base backup ids, oldest first: ['b1', 'b2']. b1 ended before the target, b2 after. */
  backupIds: string[];
  /** The backup that automatic selection must choose (newest that ended before the target). */
  expectedBackupId: string;
  backups: Record<string, BackupHistory>;
}

export interface ScenarioOptions {
  layout: BaseBackupLayout;
  /** How both base backups are taken (compression, pg_basebackup or the low-level API). */
  backup?: Pick<TakeBaseBackupOptions, 'compress' | 'method'>;
  /**
   * More base backups taken just BEFORE b1 (so automatic selection still picks b1),
   * each in its own layout and compression; a plan names one with source.backup.
   */
  backupsBeforeB1?: TakeBaseBackupOptions[];
  /** Database name; default 'app'. Any characters (it is always quoted). */
  db?: string;
  /** Offset used to write the target; default -05:00 (+05:30 if that is the server's). */
  targetOffset?: string;
  /** Table and column names; default accounts, events, created_at. Any characters. */
  names?: Partial<AppNames>;
  /**
   * Archived segments between b1's and the target's: after the good commits, this many
   * times one more event row and a WAL switch. Default 0 (b1's segment, then the target's).
   */
  segmentsBeforeTarget?: number;
  /** Runs right after b1 is taken, before the good commits (e.g. restart the primary with other settings). */
  afterFirstBackup?: () => Promise<void>;
  /** tarball layout: pg_basebackup -Fp, then tar (see TakeBaseBackupOptions.plain). */
  plainTarball?: boolean;
}

/** `2024-01-15T00:30:00.123-05:00` for an instant and an offset like -05:00. */
export function formatWithOffset(epochMs: number, offset: string): string {
  const match = /^([+-])(\d\d):(\d\d)$/.exec(offset);
  if (!match) throw new Error(`offset must look like -05:00, got ${offset}`);
  const minutes = (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
  const local = new Date(epochMs + minutes * 60_000).toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ
  return local.slice(0, 23) + offset;
}

export async function buildIncidentScenario(primary: Primary, options: ScenarioOptions): Promise<Scenario> {
  const db = options.db ?? 'app';
  const names: AppNames = { ...DEFAULT_APP_NAMES, ...options.names };
  const accounts = quoteIdent(names.accounts);
  const events = quoteIdent(names.events);
  const createdAt = quoteIdent(names.createdAt);
  const sql = (text: string) => primary.psql(text, db);

  await primary.psql(`CREATE DATABASE ${quoteIdent(db)}`);
  await sql(`
    CREATE TABLE ${accounts} (id int PRIMARY KEY, name text, ${createdAt} timestamptz DEFAULT now());
    CREATE TABLE ${events} (id serial PRIMARY KEY, account_id int, ${createdAt} timestamptz DEFAULT now());
    INSERT INTO ${accounts} (id, name) SELECT i, 'initial-' || i FROM generate_series(1, 5) i;
    INSERT INTO ${events} (account_id) SELECT i FROM generate_series(1, 5) i;
  `);

  const before: Record<string, BackupHistory> = {};
  for (const extra of options.backupsBeforeB1 ?? []) before[extra.id] = await takeBaseBackup(primary, extra);
  const b1 = await takeBaseBackup(primary, { id: 'b1', layout: options.layout, plain: options.plainTarball ?? false, ...options.backup });
  if (options.afterFirstBackup) await options.afterFirstBackup();

  // Good commits after b1, each its own transaction (psql autocommit).
  await sql(`INSERT INTO ${accounts} (id, name) SELECT i, 'good-' || i FROM generate_series(6, 8) i`);
  await sql(`INSERT INTO ${events} (account_id) SELECT i FROM generate_series(1, 8) i`);
  await sql(`UPDATE ${accounts} SET name = 'renamed-3' WHERE id = 3`);
  for (let i = 0; i < (options.segmentsBeforeTarget ?? 0); i++) {
    await sql(`INSERT INTO ${events} (account_id) VALUES (${i + 1})`);
    await primary.switchWal();
  }

  // Leave clear air on both sides of the target so no commit lands near it.
  await sleep(1200);
  const expected = await captureAppState(primary, db, names);
  const target = await recordTarget(primary, options.targetOffset);
  await sleep(1200);

  // The incident, in separate transactions: deletes, a bad import, corrupting updates.
  await sql(`DELETE FROM ${events} WHERE account_id IN (2, 6)`);
  await sql(`DELETE FROM ${accounts} WHERE id IN (2, 6)`);
  await sql(`
    BEGIN;
    INSERT INTO ${accounts} (id, name) SELECT i, 'bad-import-' || i FROM generate_series(900, 902) i;
    INSERT INTO ${events} (account_id) SELECT i FROM generate_series(900, 902) i;
    COMMIT;
  `);
  await sql(`UPDATE ${accounts} SET name = 'CORRUPTED' WHERE id IN (1, 3)`);
  await primary.switchWal();

  const b2 = await takeBaseBackup(primary, { id: 'b2', layout: options.layout, plain: options.plainTarball ?? false, ...options.backup });

  await sql(`INSERT INTO ${accounts} (id, name) VALUES (950, 'after-b2')`);
  await sql(`INSERT INTO ${events} (account_id) VALUES (950), (950)`);
  await primary.switchWal();
  const final = await captureAppState(primary, db, names);

  return { db, names, target, expected, final, backupIds: ['b1', 'b2'], expectedBackupId: 'b1', backups: { ...before, b1, b2 } };
}

/**
 * The server's now(), written with an offset different from the server's own, so a
 * tool that drops or misreads the offset recovers to the wrong instant.
 */
async function recordTarget(primary: Primary, requestedOffset?: string): Promise<RecoveryTarget> {
  const [epochText, serverOffset, lsn] = (
    await primary.psql(`SELECT floor(extract(epoch FROM now()) * 1000)::bigint, to_char(now(), 'TZH:TZM'), pg_current_wal_insert_lsn()`)
  ).split('|') as [string, string, string];
  const epochMs = Number(epochText);
  const writtenOffset = requestedOffset ?? (serverOffset === '-05:00' ? '+05:30' : '-05:00');
  if (writtenOffset === serverOffset) throw new Error(`target offset ${writtenOffset} equals the server's`);
  // pg_current_xact_id() exists from 13 (txid_current before); neither call changes a row.
  const xid = await primary.psql('SELECT pg_current_xact_id()');
  const restorePoint = 'pitr-e2e-target';
  await primary.psql(`SELECT pg_create_restore_point('${restorePoint}')`);
  return { written: formatWithOffset(epochMs, writtenOffset), epochMs, writtenOffset, serverOffset, lsn, xid, restorePoint };
}
