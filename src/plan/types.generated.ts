/* eslint-disable */
/**
 * GENERATED FILE, do not edit. Generated from schema/plan.schema.json by
 * scripts/gen-types.mjs; after changing the schema run: npm run gen-types
 */

/**
 * A declarative PostgreSQL point-in-time-recovery plan, compiled by `pitr compile` into bash scripts.
 */
export interface PitrPlan {
  /**
   * Editor hint (yaml-language-server); ignored by the compiler.
   */
  $schema?: string;
  /**
   * Plan format version. Only 1 exists.
   */
  version: 1;
  /**
   * Plan name: lowercase letters, digits and dashes. Names the output directory out/<name>/.
   */
  name: string;
  /**
   * What this recovery is for, shown in RUNBOOK.md and the script headers.
   */
  description?: string;
  /**
   * Where recovery stops. Exactly one of time, xid, lsn, restorePoint, immediate.
   */
  target: {
    /**
     * Recover to this instant. An explicit UTC offset or IANA zone is required (a bare time would be read in the server's timezone).
     */
    time?: string;
    /**
     * Recover to this transaction id.
     */
    xid?: number;
    /**
     * Recover to this WAL location (pg_lsn).
     */
    lsn?: string;
    /**
     * Recover to a named restore point created with pg_create_restore_point().
     */
    restorePoint?: string;
    /**
     * Stop as soon as the base backup is consistent.
     */
    immediate?: true;
    /**
     * Whether the target transaction itself is replayed. Default false here (PostgreSQL's default is true): stop just before the damage.
     */
    inclusive?: boolean;
    /**
     * Timeline to recover along: latest (default), current (the backup's), or a number.
     */
    timeline?: ('latest' | 'current') | number;
  };
  /**
   * The production PostgreSQL server on this host.
   */
  postgres: {
    /**
     * Major version of the server, 13 to 18. The scripts choose every version-dependent call by it (see RUNBOOK.md, PostgreSQL versions), and preflight requires the server and every PostgreSQL program the plan runs (from binDir) to be of this major.
     */
    version: number;
    /**
     * Database to verify, dump and count rows in.
     */
    database: string;
    /**
     * Production data directory (absolute path).
     */
    dataDir: string;
    /**
     * postgresql.conf outside the data directory (Debian layout). Omit when postgresql.conf lives in dataDir.
     */
    configFile?: string;
    /**
     * OS user that owns dataDir and runs the server. Default postgres.
     */
    osUser?: string;
    /**
     * Production port. Default 5432.
     */
    port?: number;
    /**
     * Socket directory or host name of the production server. Default /var/run/postgresql.
     */
    host?: string;
    /**
     * Database role the scripts connect as. Default postgres.
     */
    superuser?: string;
    /**
     * The server's log_timezone (an IANA zone), in which PostgreSQL writes every backup's STOP TIME. Optional. With it, pitr resolve reads STOP TIMEs exactly as the preflight does on the host (which asks the server), so an ambiguous abbreviation such as IST or an hour repeated by a DST change still decides; without it, resolve reads the abbreviation alone and refuses to guess. The preflight checks that the server's log_timezone is this zone.
     */
    logTimezone?: string;
    /**
     * Directory of pg_ctl, psql, pg_dump... Default /usr/lib/postgresql/<version>/bin.
     */
    binDir?: string;
    /**
     * How the production server is stopped and started.
     */
    service: {
      /**
       * systemd (systemctl), pg_ctlcluster (Debian postgresql-common) or pg_ctl.
       */
      kind: 'systemd' | 'pg_ctlcluster' | 'pg_ctl';
      /**
       * systemd unit (kind systemd).
       */
      unit?: string;
      /**
       * Cluster as VERSION/NAME (kind pg_ctlcluster).
       */
      cluster?: string;
      /**
       * Server log file passed to pg_ctl -l (kind pg_ctl). Default <dataDir>/../postgresql.log is NOT assumed: omit to keep the server's own logging.
       */
      logFile?: string;
    };
  };
  /**
   * Where the base backups and the WAL archive are.
   */
  source: {
    /**
     * s3 (any S3-compatible store, through the aws CLI), local (a directory, e.g. NFS), gcs (reserved).
     */
    kind: 's3' | 'gcs' | 'local';
    /**
     * Bucket name (kind s3).
     */
    bucket?: string;
    /**
     * Bucket region (kind s3).
     */
    region?: string;
    /**
     * S3-compatible endpoint URL; omit for AWS.
     */
    endpoint?: string;
    /**
     * Archive root directory (kind local).
     */
    path?: string;
    /**
     * Base backups.
     */
    base?: {
      /**
       * Key prefix (or subdirectory) of base backups. Default base/.
       */
      prefix?: string;
      /**
       * tarball: <prefix><id>.tar.gz (+ <prefix><id>/backup_label); pg_basebackup: <prefix><id>/{base.tar.gz,pg_wal.tar.gz,backup_manifest} from pg_basebackup -Ft -z.
       */
      layout?: 'tarball' | 'pg_basebackup';
    };
    /**
     * The WAL archive.
     */
    wal?: {
      /**
       * Key prefix (or subdirectory) of archived WAL and .backup/.history files. Default wal/.
       */
      prefix?: string;
      /**
       * How segments are stored: none, gzip (<file>.gz) or zstd (<file>.zst). Default none.
       */
      compression?: 'none' | 'gzip' | 'zstd';
    };
    /**
     * auto (default): the newest backup whose STOP TIME is strictly before the target; or an explicit backup id (its label).
     */
    backup?: string;
  };
  /**
   * The side instance that replays WAL before anything in production changes.
   */
  recovery: {
    /**
     * Scratch directory: the recovered data directory, staged WAL, side-instance logs. Must be on the same filesystem as dataDir and not inside it.
     */
    workDir: string;
    /**
     * Port of the side instance. Must differ from postgres.port. Default 5433.
     */
    port?: number;
    /**
     * Parallel WAL downloads. Default 4.
     */
    parallelism?: number;
    /**
     * How long to wait for client connections to leave after services stop. Default 120.
     */
    drainTimeoutSeconds?: number;
    /**
     * How long pg_ctl waits for a server to start. Default 300.
     */
    startTimeoutSeconds?: number;
    /**
     * The recover phase stops with a diagnosis when the side instance answers no poll, or its replay position does not move, for this long (a hung server, a stuck restore_command, a pause that is not the target). Raise it for an archive that takes longer than this to deliver one WAL segment. Default 600.
     */
    stallTimeoutSeconds?: number;
    /**
     * Free space on each of production's filesystems that no phase may use (workDir's, and those of tablespace or pg_wal copies): a share of the filesystem ("5%") or a size ("2GiB", "500MiB"). Preflight refuses a run whose estimate would cross it; fetch watches it while it writes and, crossing it, stops and removes what it wrote. Default: the larger of 5% of the filesystem and twice production's max_wal_size.
     */
    diskReserve?: string;
  };
  /**
   * Where the application runs; its writers are stopped before recovery and restarted after.
   */
  runtime?: {
    /**
     * docker (docker compose), k8s (kubectl) or none. Default none.
     */
    kind: 'docker' | 'k8s' | 'none';
    /**
     * docker compose project (kind docker).
     */
    compose?: {
      /**
       * The compose command as operators type it. Default 'docker compose'.
       */
      command?: string;
      /**
       * Compose file.
       */
      file: string;
      /**
       * Services that write to the database.
       *
       * @minItems 1
       */
      services: [string, ...string[]];
    };
    /**
     * Kubernetes deployments (kind k8s).
     */
    k8s?: {
      /**
       * kubectl context.
       */
      context: string;
      /**
       * Namespace.
       */
      namespace: string;
      /**
       * Deployments that write to the database.
       *
       * @minItems 1
       */
      deployments: [string, ...string[]];
    };
  };
  /**
   * A pg_dump of production taken before anything changes.
   */
  safetyBackup?: {
    /**
     * Directory for the dump. Default /var/backups/postgresql.
     */
    dir?: string;
    /**
     * Take the dump (default true). The old dataDir is always kept renamed aside as well.
     */
    pgDump?: boolean;
  };
  /**
   * Checks run on the recovered data while it is still paused on the side port.
   */
  verify?: {
    /**
     * Tables whose row counts are recorded before and shown side by side after.
     */
    rowCounts?: string[];
    /**
     * max(column) of each must be before the target time.
     *
     * Items: A timestamp column that must hold nothing after the target.
     */
    notAfterTarget?: {
      /**
       * Table name.
       */
      table: string;
      /**
       * Timestamp column.
       */
      column: string;
    }[];
    /**
     * SQL whose single-value result must equal expect.
     *
     * Items: A verification query.
     */
    queries?: {
      /**
       * Shown in the output.
       */
      name: string;
      /**
       * One SQL statement returning one value.
       */
      sql: string;
      /**
       * Expected value, as psql -At prints it.
       */
      expect: string;
    }[];
    /**
     * Application health checks run after services are restarted.
     *
     * Items: An HTTP check.
     */
    http?: {
      /**
       * URL to GET.
       */
      url: string;
      /**
       * Expected status. Default 200.
       */
      status?: number;
      /**
       * Name of the environment variable holding a bearer token.
       */
      bearerTokenEnv?: string;
    }[];
  };
  /**
   * Notifications.
   */
  notify?: {
    /**
     * Slack incoming webhook.
     */
    slack?: {
      /**
       * Name of the environment variable holding the webhook URL (never the URL itself).
       */
      webhookUrlEnv: string;
    };
  };
}
