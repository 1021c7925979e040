// Recording stand-ins for `docker` (compose), `kubectl` and `systemctl`: no Docker
// engine, cluster or systemd exists here, so the generated scripts' runtime phases run against these
// bash scripts (test/e2e/standins/), which record every call and keep the state the
// real runtime would have (running services, replica counts) in files.

import { copyFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const STANDIN_SOURCES = join(dirname(fileURLToPath(import.meta.url)), '..', 'standins');

export interface StandIns {
  /** Put this first on PATH of the scripts under test. */
  binDir: string;
  /** One JSON array (the full argv, program name first) per call. */
  callsFile: string;
  /** Every recorded call so far, e.g. ['docker', 'compose', '-f', 'FILE', 'stop', 'api']. */
  readCalls(): string[][];
  /** Declare the compose project's running services (they also become known services). */
  setComposeRunning(services: string[]): void;
  /** The services `docker compose ps --services --status running` would print now. */
  composeRunning(): string[];
  /** Create or update a deployment's replica count. */
  setReplicas(deployment: string, replicas: number): void;
  /** A deployment's current replica count (undefined if it does not exist). */
  replicas(deployment: string): number | undefined;
  /** Declare HorizontalPodAutoscalers (what `kubectl get hpa` lists). */
  setHpas(hpas: Array<{ name: string; target: string; minReplicas: number }>): void;
  /** Declare a systemd unit the `systemctl` stand-in stops and starts with pg_ctl. */
  declareSystemdUnit(unit: string, dataDir: string, logFile: string): void;
}

/**
 * Install the stand-ins into `<root>/standins/` (bin/docker, bin/kubectl, state/,
 * calls.jsonl). They run as root (the generated scripts call them as the operator).
 */
export function installStandIns(root: string): StandIns {
  const dir = join(root, 'standins');
  const binDir = join(dir, 'bin');
  const stateDir = join(dir, 'state');
  const replicasDir = join(stateDir, 'replicas');
  const callsFile = join(dir, 'calls.jsonl');
  const runningFile = join(stateDir, 'compose-running');
  const servicesFile = join(stateDir, 'compose-services');
  mkdirSync(binDir, { recursive: true });
  mkdirSync(replicasDir, { recursive: true });
  copyFileSync(join(STANDIN_SOURCES, 'standin-common.sh'), join(dir, 'standin-common.sh'));
  mkdirSync(join(stateDir, 'systemd-units'), { recursive: true });
  for (const program of ['docker', 'kubectl', 'systemctl']) {
    copyFileSync(join(STANDIN_SOURCES, program), join(binDir, program));
    chmodSync(join(binDir, program), 0o755);
  }
  writeFileSync(callsFile, '');
  writeFileSync(runningFile, '');
  writeFileSync(servicesFile, '');

  const readLines = (file: string): string[] =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((line) => line !== '') : [];
  const checkDeploymentName = (name: string): void => {
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) throw new Error(`invalid deployment name ${name}`);
  };

  return {
    binDir,
    callsFile,
    readCalls: () => readLines(callsFile).map((line) => JSON.parse(line) as string[]),
    setComposeRunning: (services) => {
      const known = new Set([...readLines(servicesFile), ...services]);
      writeFileSync(servicesFile, [...known].map((s) => `${s}\n`).join(''));
      writeFileSync(runningFile, services.map((s) => `${s}\n`).join(''));
    },
    composeRunning: () => readLines(runningFile).sort(),
    setReplicas: (deployment, replicas) => {
      checkDeploymentName(deployment);
      writeFileSync(join(replicasDir, deployment), `${replicas}\n`);
    },
    replicas: (deployment) => {
      checkDeploymentName(deployment);
      const [value] = readLines(join(replicasDir, deployment));
      return value === undefined ? undefined : Number(value);
    },
    setHpas: (hpas) => {
      writeFileSync(join(stateDir, 'hpas.tsv'), hpas.map((h) => `${h.name}\t${h.target}\t${h.minReplicas}\n`).join(''));
    },
    declareSystemdUnit: (unit, dataDir, logFile) => {
      if (!/^[A-Za-z0-9@._-]+$/.test(unit)) throw new Error(`invalid unit name ${unit}`);
      writeFileSync(join(stateDir, 'systemd-units', unit), `${dataDir}\n${logFile}\n`);
    },
  };
}

/**
 * installStandIns, plus the plan's compose file (<root>/compose.yml, an empty project)
 * and these compose services running.
 */
export function installComposeStandIns(root: string, running: string[]): StandIns {
  const standIns = installStandIns(root);
  writeFileSync(join(root, 'compose.yml'), 'services: {}\n');
  standIns.setComposeRunning(running);
  return standIns;
}
