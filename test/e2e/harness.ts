// The end-to-end test harness: real PostgreSQL 15 servers, a WAL archive laid out
// like a plan's `source`, s3rver + the aws CLI, recording docker/kubectl stand-ins,
// and the incident scenario. For fault injection: blockers (PATH wrappers that hold one
// chosen command until released), scripts in their own process group (kill -9 of the
// group, as a dying terminal does), and checksum manifests of data directories.
// Tests import everything from here; the pieces live in ./lib (one concern per file)
// and ./standins (the stand-in scripts).
//
// Ground rules the helpers follow:
// - Every PostgreSQL command runs as the postgres OS user; every directory a server
//   uses is owned by postgres, under a 0755 harness root in /tmp.
// - Servers listen on a unix socket only (listen_addresses = ''); the "port" names the
//   socket file `.s.PGSQL.<port>` in the server's socket directory.
// - cleanupHarnessRoot(root) stops every server under root (also ones generated
//   scripts started there) and every s3rver, by pid, then deletes root.

export {
  PG_BIN,
  CommandError,
  StopWaiting,
  cleanEnv,
  chownToPostgres,
  freePort,
  run,
  runAsPostgres,
  sleep,
  tailFile,
  waitFor,
  type RunOptions,
  type RunResult,
} from './lib/exec.js';
export { createHarnessRoot, cleanupHarnessRoot, keepHarnessRoots } from './lib/root.js';
export {
  appendPostgresConf,
  archiveCommand,
  archivedName,
  confQuote,
  extractTarGzAsPostgres,
  findServerDataDirs,
  isProcessAlive,
  pgCtl,
  psqlAt,
  quoteIdent,
  quoteLiteral,
  readPostmasterPid,
  recoveryState,
  registerServerBinDir,
  serverBinDir,
  shellQuote,
  startPrimary,
  startServer,
  stopServer,
  stopServersUnder,
  waitForArchived,
  waitForRecoveryPause,
  type Primary,
  type PsqlOptions,
  type ServerAddress,
  type ServerLocation,
  type StartPrimaryOptions,
  type WalCompression,
} from './lib/postgres.js';
export {
  listBackupHistories,
  parseBackupHistory,
  readArchivedFile,
  tablespacesOf,
  takeBaseBackup,
  tarSuffix,
  waitForBackupHistory,
  type BackupCompression,
  type BackupHistory,
  type BaseBackupLayout,
  type TakeBaseBackupOptions,
} from './lib/archive.js';
export {
  AWS_CLI,
  listKeys,
  runAwsAsPostgres,
  s3Client,
  s3Env,
  startS3rver,
  stopAllS3rvers,
  uploadArchive,
  type S3Endpoint,
} from './lib/s3.js';
export {
  DEBIAN_PG_VERSION,
  createDebianCluster,
  debianConfigDir,
  dropDebianCluster,
  lsCluster,
  pgCtlCluster,
  type ClusterListing,
  type CreateDebianClusterOptions,
  type DebianCluster,
} from './lib/debian.js';
export { installComposeStandIns, installStandIns, type StandIns } from './lib/standins.js';
export {
  DEFAULT_APP_NAMES,
  buildIncidentScenario,
  captureAppState,
  formatWithOffset,
  type AppNames,
  type AppState,
  type RecoveryTarget,
  type Scenario,
  type ScenarioOptions,
} from './lib/scenario.js';
export { MATRIX_MAJORS, binDirFor, serverProgramsDir, useMajor, type Major } from './lib/majors.js';
export { installBlockers, type Blocker, type Blockers } from './lib/blockers.js';
export { killProcessGroup, groupAlive, startDetached, type DetachedRun } from './lib/process-group.js';
export { dataDirManifest, quiesce, relationManifest, type Manifest, type RelationManifest } from './lib/manifest.js';
export { checksumTree, productionFingerprint, DATA_DIR_CONFIG_FILES, type ProductionFingerprint } from './lib/production.js';
export { FULL_VERIFY, NOT_AFTER_TARGET, compileTestPlan, composeRuntime, debianPostgres, k8sRuntime, s3Source, testPlan, writeTestPlan, type PlanDocument, type PlanSite, type TestPlanOptions } from './lib/plans.js';
export { bundleAt, compileBundle, scriptEnv, type ScriptEnvOptions, type ScriptRunOptions, type TestBundle } from './lib/bundle.js';
