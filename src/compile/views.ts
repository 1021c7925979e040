/**
 * One view per variant: on each axis the plan has one kind, and the bundle contains only
 * that kind's code, templates/views/<axis>/<kind>.sh rendered as lib/<axis>.sh
 * (render.ts), and only that kind's constants. Adding a kind means adding its view file
 * on each axis it touches and its row here.
 */
import type { NormalizedPlan } from '../plan/normalized.js';
import type { Constant } from './script-constants.js';

/** One kind per axis; each names a file of templates/views/<axis>/. */
export type Views = {
  source: string;
  runtime: string;
  service: string;
  notify: string;
};

/** The plan's kind on each view axis. */
export function viewsOf(plan: NormalizedPlan): Views {
  return {
    source: plan.source.kind,
    runtime: plan.runtime.kind,
    service: plan.postgres.service.kind,
    notify: plan.notify.slack === null ? 'log' : 'slack',
  };
}

/** The constants only one kind's view reads, by axis and kind. */
const VIEW_CONSTANTS: { readonly [Axis in keyof Views]: Readonly<Record<string, readonly string[]>> } = {
  source: { s3: ['S3_BUCKET', 'S3_REGION', 'S3_ENDPOINT'], local: ['ARCHIVE_PATH'] },
  runtime: { docker: ['COMPOSE_CMD', 'COMPOSE_FILE', 'COMPOSE_SERVICES'], k8s: ['K8S_CONTEXT', 'K8S_NAMESPACE', 'K8S_DEPLOYMENTS'], none: [] },
  service: { systemd: ['SERVICE_UNIT'], pg_ctlcluster: ['SERVICE_CLUSTER'], pg_ctl: ['SERVICE_LOG_FILE'] },
  notify: { slack: ['SLACK_WEBHOOK_ENV'], log: [] },
};

/** CONSTANTS without those of the other kinds' views: a bundle declares only its own plan's. */
export function constantsForViews(constants: Constant[], views: Views): Constant[] {
  const foreign = new Set<string>();
  for (const axis of Object.keys(VIEW_CONSTANTS) as (keyof Views)[]) {
    for (const [kind, names] of Object.entries(VIEW_CONSTANTS[axis])) if (kind !== views[axis]) names.forEach((n) => foreign.add(n));
  }
  return constants.filter((k) => !foreign.has(k.name));
}
