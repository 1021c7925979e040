/**
 * The plan after validation and normalization: every default applied, every optional
 * block present, the target reduced to one kind with a canonical value. This is what
 * the compiler consumes and what plan.json records.
 */
export type TargetKind = 'time' | 'xid' | 'lsn' | 'restorePoint' | 'immediate';

export interface NormalizedTarget {
  kind: TargetKind;
  /** time: canonical UTC "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00"; xid: decimal digits;
   *  lsn: upper-case "X/X"; restorePoint: the name; immediate: "". */
  value: string;
  /** The time as the plan wrote it (time targets only), for the runbook. */
  written: string | null;
  inclusive: boolean;
  /** "latest" | "current" | a decimal timeline id. */
  timeline: string;
}

export type ServiceControl =
  | { kind: 'systemd'; unit: string }
  | { kind: 'pg_ctlcluster'; cluster: string }
  | { kind: 'pg_ctl'; logFile: string | null };

export type Runtime =
  | { kind: 'docker'; compose: { command: string[]; file: string; services: string[] } }
  | { kind: 'k8s'; k8s: { context: string; namespace: string; deployments: string[] } }
  | { kind: 'none' };

/**
 * Where a plan's archive is and how it is laid out: the plan's source without its backup
 * choice. A lock file records exactly this, so one type keeps the two in step.
 */
export interface ArchiveLocation {
  kind: 's3' | 'local';
  bucket: string | null;
  region: string | null;
  endpoint: string | null;
  path: string | null;
  /** Prefixes are "" or end with "/". */
  base: { prefix: string; layout: 'tarball' | 'pg_basebackup' };
  wal: { prefix: string; compression: 'none' | 'gzip' | 'zstd' };
}

export interface NormalizedPlan {
  version: 1;
  name: string;
  description: string;
  target: NormalizedTarget;
  postgres: {
    version: number;
    database: string;
    dataDir: string;
    configFile: string | null;
    osUser: string;
    port: number;
    host: string;
    superuser: string;
    binDir: string;
    /** The server's log_timezone as the plan states it (STOP TIMEs are written in it), or null. */
    logTimezone: string | null;
    service: ServiceControl;
  };
  source: ArchiveLocation & {
    /** "auto" or an explicit backup id (label). */
    backup: string;
  };
  recovery: {
    workDir: string;
    port: number;
    parallelism: number;
    drainTimeoutSeconds: number;
    startTimeoutSeconds: number;
    /** The recover phase's bound on a side instance that answers no poll or makes no replay progress. */
    stallTimeoutSeconds: number;
    /** recovery.diskReserve as written ("5%", "2GiB"), or null for the default rule. */
    diskReserve: string | null;
  };
  runtime: Runtime;
  safetyBackup: { dir: string; pgDump: boolean };
  verify: {
    rowCounts: string[];
    notAfterTarget: { table: string; column: string }[];
    queries: { name: string; sql: string; expect: string }[];
    http: { url: string; status: number; bearerTokenEnv: string | null }[];
  };
  notify: { slack: { webhookUrlEnv: string } | null };
}
