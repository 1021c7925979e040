// A Debian-packaged PostgreSQL 15 cluster (postgresql-common): made by
// pg_createcluster, configured in /etc/postgresql/15/<name>/ (conf.d included),
// started and stopped by pg_ctlcluster, listed by pg_lsclusters, removed by
// pg_dropcluster. It archives into a harness archive exactly like startPrimary's
// server, and implements the Primary interface, so buildIncidentScenario and
// takeBaseBackup work on it unchanged.
//
// Its data directory, socket directory and log live under the harness root
// (<root>/lib/postgresql/15/<name>, <root>/run, <root>/log): renamed-aside copies made
// by generated scripts are then removed with the root. Only the configuration is in
// /etc/postgresql/15/<name>/, which dropDebianCluster removes.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chownToPostgres, freePort, run, tailFile, type RunResult } from './exec.js';
import {
  archiveCommand,
  confQuote,
  psqlAt,
  readPostmasterPid,
  waitForArchived,
  type Primary,
  type WalCompression,
} from './postgres.js';

export const DEBIAN_PG_VERSION = '15';

export interface DebianCluster extends Primary {
  /** e.g. pitre2e1a2b3c4d: [a-z0-9] only. */
  name: string;
  /** `15/<name>`, as pg_ctlcluster and a plan's service.cluster write it. */
  cluster: string;
  /** /etc/postgresql/15/<name> */
  configDir: string;
  /** /etc/postgresql/15/<name>/postgresql.conf */
  configFile: string;
}

export interface CreateDebianClusterOptions {
  root: string;
  /** Never UTC, so offset bugs show. Used for timezone and log_timezone. */
  timezone: string;
  walCompression?: WalCompression;
  /** Default: pitre2e<random hex>. */
  name?: string;
}

/** One line of `pg_lsclusters`. */
export interface ClusterListing {
  version: string;
  name: string;
  port: number;
  /** online | down | online,recovery | ... */
  status: string;
  owner: string;
  dataDir: string;
  logFile: string;
}

export function debianConfigDir(name: string): string {
  return join('/etc/postgresql', DEBIAN_PG_VERSION, name);
}

/** pg_lsclusters' line for 15/<name>, or undefined if it lists no such cluster. */
export async function lsCluster(name: string): Promise<ClusterListing | undefined> {
  const { stdout } = await run('pg_lsclusters', ['-h']);
  for (const line of stdout.split('\n')) {
    const [version, cluster, port, status, owner, dataDir, logFile] = line.trim().split(/\s+/);
    if (version === DEBIAN_PG_VERSION && cluster === name) {
      return { version, name: cluster, port: Number(port), status: status ?? '', owner: owner ?? '', dataDir: dataDir ?? '', logFile: logFile ?? '' };
    }
  }
  return undefined;
}

/** pg_ctlcluster 15 <name> ACTION [...args] as root (it runs pg_ctl as the cluster owner). */
export function pgCtlCluster(name: string, action: string, args: string[] = [], options: { allowFailure?: boolean } = {}): Promise<RunResult> {
  return run('pg_ctlcluster', [DEBIAN_PG_VERSION, name, action, ...args], { ...options, timeoutMs: 180_000 });
}

/**
 * pg_createcluster 15 <name> -p <free port> -s <root>/run -d <root>/lib/postgresql/15/<name>
 * -l <root>/log/postgresql-15-<name>.log -- --auth=trust; then conf.d/pitr-e2e.conf
 * (timezone, unix socket only, archiving into <root>/archive/wal) and
 * pg_ctlcluster 15 <name> start.
 */
export async function createDebianCluster({ root, timezone, walCompression = 'none', name }: CreateDebianClusterOptions): Promise<DebianCluster> {
  const clusterName = name ?? `pitre2e${randomBytes(4).toString('hex')}`;
  if (!/^[a-z0-9]+$/.test(clusterName)) throw new Error(`cluster name must be [a-z0-9]+, got ${clusterName}`);
  const configDir = debianConfigDir(clusterName);
  if (existsSync(configDir)) throw new Error(`${configDir} already exists`);
  const dataParent = join(root, 'lib', 'postgresql', DEBIAN_PG_VERSION);
  const dataDir = join(dataParent, clusterName);
  const socketDir = join(root, 'run');
  const logDir = join(root, 'log');
  const logFile = join(logDir, `postgresql-${DEBIAN_PG_VERSION}-${clusterName}.log`);
  const archiveDir = join(root, 'archive');
  const walDir = join(archiveDir, 'wal');
  for (const dir of [dataParent, socketDir, logDir, join(archiveDir, 'base'), walDir]) await mkdir(dir, { recursive: true });
  for (const dir of [join(root, 'lib'), socketDir, logDir, archiveDir]) await chownToPostgres(dir);

  const port = await freePort();
  await run('pg_createcluster', [
    DEBIAN_PG_VERSION, clusterName,
    '-p', String(port),
    '-s', socketDir,
    '-d', dataDir,
    '-l', logFile,
    '--start-conf', 'manual',
    '--', '--auth=trust',
  ], { timeoutMs: 180_000 });

  // conf.d is included by the cluster's postgresql.conf (createcluster.conf: add_include_dir).
  const settings: Record<string, string | number> = {
    timezone,
    log_timezone: timezone,
    listen_addresses: '',
    wal_level: 'replica',
    archive_mode: 'on',
    archive_command: archiveCommand(walDir, walCompression),
    archive_timeout: 0,
    max_wal_senders: 4,
    hot_standby: 'on',
  };
  const confText = Object.entries(settings)
    .map(([key, value]) => (typeof value === 'string' ? `${key} = ${confQuote(value)}` : `${key} = ${value}`))
    .join('\n');
  const confFile = join(configDir, 'conf.d', 'pitr-e2e.conf');
  await writeFile(confFile, `# added by the pitr-plan e2e harness\n${confText}\n`);
  await chownToPostgres(confFile);

  const cluster: DebianCluster = {
    major: Number(DEBIAN_PG_VERSION),
    name: clusterName,
    cluster: `${DEBIAN_PG_VERSION}/${clusterName}`,
    configDir,
    configFile: join(configDir, 'postgresql.conf'),
    dataDir,
    port,
    socketDir,
    logFile,
    root,
    archiveDir,
    walCompression,
    timezone,
    psql: (sql, db) => psqlAt({ socketDir, port, sql, db }),
    switchWal: async () => {
      const segment = await cluster.psql('SELECT pg_walfile_name(pg_switch_wal())');
      await waitForArchived(cluster, segment);
      return segment;
    },
    stop: async () => {
      await pgCtlCluster(clusterName, 'stop', ['-m', 'fast']);
    },
    postmasterPid: async () => {
      const pid = await readPostmasterPid(dataDir);
      if (pid === undefined) throw new Error(`no postmaster.pid in ${dataDir}`);
      return pid;
    },
  };

  const started = await pgCtlCluster(clusterName, 'start', [], { allowFailure: true });
  if (started.code !== 0) {
    throw new Error(`pg_ctlcluster ${cluster.cluster} start failed: ${started.stderr}\n${await tailFile(logFile)}`);
  }
  return cluster;
}

/**
 * pg_dropcluster --stop 15 <name>, then remove what it may have left (its config
 * directory, when the data directory was missing). Never rejects: returns what failed.
 */
export async function dropDebianCluster(name: string): Promise<string[]> {
  const problems: string[] = [];
  const configDir = debianConfigDir(name);
  if (!existsSync(configDir)) return problems;
  const dropped = await run('pg_dropcluster', ['--stop', DEBIAN_PG_VERSION, name], { allowFailure: true, timeoutMs: 180_000 }).catch(
    (error: unknown) => ({ code: -1, stderr: String(error) }) as Pick<RunResult, 'code' | 'stderr'>,
  );
  if (dropped.code !== 0) problems.push(`pg_dropcluster --stop ${DEBIAN_PG_VERSION} ${name}: exit ${dropped.code}: ${dropped.stderr.trim()}`);
  if (existsSync(configDir)) {
    problems.push(`${configDir} was still there after pg_dropcluster: removed`);
    await rm(configDir, { recursive: true, force: true });
  }
  return problems;
}
