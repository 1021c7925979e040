/**
 * One view per variant: a bundle holds only its own plan's source, runtime, service and
 * notification code (templates/views/<axis>/<kind>.sh renders as lib/<axis>.sh), and
 * declares only its own kinds' constants. A reviewer of a docker+S3 plan reads no
 * k8s and no local-archive code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { loadTemplates, outputPath } from '../../src/compile/render.js';
import type { NormalizedPlan } from '../../src/plan/normalized.js';
import { TEMPLATES_DIR } from '../../src/paths.js';
import { loadExamplePlan, REPO_ROOT } from './compiler-helpers.js';

const templates = loadTemplates(TEMPLATES_DIR);

/** Words only one kind's code contains: its programs, its functions, its constants. */
const MARKERS = {
  source: {
    s3: ['aws_cli', 'S3_BUCKET', 'S3_ENDPOINT', 'list-objects-v2', 'head-object'],
    local: ['ARCHIVE_PATH', 'find "${dir}" -mindepth 1 -maxdepth 1 -type f'],
  },
  runtime: {
    docker: ['compose()', 'COMPOSE_CMD', 'COMPOSE_FILE', 'compose-running'],
    k8s: ['kubectl', 'kube()', 'K8S_CONTEXT', 'K8S_DEPLOYMENTS', 'k8s-replicas'],
    none: ['runtime kind none'],
  },
  service: {
    systemd: ['systemctl', 'SERVICE_UNIT'],
    pg_ctlcluster: ['pg_ctlcluster', 'SERVICE_CLUSTER'],
    pg_ctl: ['SERVICE_LOG_FILE'],
  },
  notify: {
    slack: ['SLACK_WEBHOOK_ENV', 'json_string'],
    log: ['notice: $1'],
  },
} as const;

type Axis = keyof typeof MARKERS;

function variant(base: NormalizedPlan, kinds: { source: 's3' | 'local'; runtime: 'docker' | 'k8s' | 'none'; service: 'systemd' | 'pg_ctlcluster' | 'pg_ctl'; slack: boolean }): NormalizedPlan {
  const source = kinds.source === 's3'
    ? { ...base.source, kind: 's3' as const, bucket: 'backups', region: 'eu-west-1', endpoint: null, path: null }
    : { ...base.source, kind: 'local' as const, bucket: null, region: null, endpoint: null, path: '/srv/archive' };
  const runtime: NormalizedPlan['runtime'] = kinds.runtime === 'docker'
    ? { kind: 'docker', compose: { command: ['docker', 'compose'], file: '/srv/app/compose.yml', services: ['api'] } }
    : kinds.runtime === 'k8s'
      ? { kind: 'k8s', k8s: { context: 'prod', namespace: 'app', deployments: ['api'] } }
      : { kind: 'none' };
  const service: NormalizedPlan['postgres']['service'] = kinds.service === 'systemd'
    ? { kind: 'systemd', unit: 'postgresql@15-main' }
    : kinds.service === 'pg_ctlcluster'
      ? { kind: 'pg_ctlcluster', cluster: '15/main' }
      : { kind: 'pg_ctl', logFile: '/var/log/pg.log' };
  return {
    ...base,
    postgres: { ...base.postgres, service },
    source,
    runtime,
    notify: { slack: kinds.slack ? { webhookUrlEnv: 'SLACK_WEBHOOK_URL' } : null },
  };
}

/** Every generated script of the bundle, RUNBOOK.md and plan.json aside (they describe the plan). */
function scripts(files: Map<string, string>): string {
  return [...files].filter(([path]) => path.endsWith('.sh')).map(([path, text]) => `### ${path}\n${text}`).join('\n');
}

function foreignMarkers(text: string, chosen: Record<Axis, string>): string[] {
  const found: string[] = [];
  for (const axis of Object.keys(MARKERS) as Axis[]) {
    for (const [kind, words] of Object.entries(MARKERS[axis])) {
      if (kind === chosen[axis]) continue;
      for (const word of words) if (text.includes(word)) found.push(`${axis} ${kind}: ${word}`);
    }
  }
  return found;
}

describe('one view per variant', () => {
  const base = loadExamplePlan('realestateos-docker');

  it('a docker + S3 bundle contains no k8s and no local-archive code, and its own', () => {
    const plan = variant(base, { source: 's3', runtime: 'docker', service: 'systemd', slack: true });
    const text = scripts(compilePlan(plan, templates, 'test'));
    expect(foreignMarkers(text, { source: 's3', runtime: 'docker', service: 'systemd', notify: 'slack' })).toEqual([]);
    for (const word of [...MARKERS.source.s3, ...MARKERS.runtime.docker, ...MARKERS.service.systemd]) expect(text).toContain(word);
  });

  const sources = ['s3', 'local'] as const;
  const runtimes = ['docker', 'k8s', 'none'] as const;
  const services = ['systemd', 'pg_ctlcluster', 'pg_ctl'] as const;
  const combinations = sources.flatMap((source) => runtimes.flatMap((runtime) => services.map((service, i) => ({ source, runtime, service, slack: i % 2 === 0 }))));

  it.each(combinations)('$source + $runtime + $service (slack $slack): only its own kinds', (kinds) => {
    const files = compilePlan(variant(base, kinds), templates, 'test');
    const chosen = { source: kinds.source, runtime: kinds.runtime, service: kinds.service, notify: kinds.slack ? 'slack' : 'log' };
    expect(foreignMarkers(scripts(files), chosen)).toEqual([]);
    for (const axis of Object.keys(MARKERS) as Axis[]) {
      expect(files.get(`lib/${axis}.sh`), `lib/${axis}.sh`).toContain(`(templates/views/${axis}/)`);
    }
    // No view file of any kind is written under its template path.
    expect([...files.keys()].filter((path) => path.startsWith('views/'))).toEqual([]);
  });

  it('a view renders as lib/<axis>.sh for its own kind only; a misnamed view is an internal error', () => {
    const views = { source: 's3', runtime: 'docker', service: 'pg_ctl', notify: 'log' };
    expect(outputPath('views/runtime/docker.sh', views)).toBe('lib/runtime.sh');
    expect(outputPath('views/runtime/k8s.sh', views)).toBeNull();
    expect(outputPath('phases/04-fetch.sh', views)).toBe('phases/04-fetch.sh');
    expect(() => outputPath('views/color/red.sh', views)).toThrow(/no view axis color/);
    expect(() => outputPath('views/runtime.sh', views)).toThrow(/views\/<axis>\/<kind>\.sh/);
  });

  it('every kind the schema allows has its view template, and every view template a kind', () => {
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'schema', 'plan.schema.json'), 'utf8'));
    const kinds = (block: any): string[] => block.properties.kind.enum;
    // gcs is reserved: the semantic rules refuse it with a workaround until its view exists.
    const schemaKinds: Record<Axis, string[]> = {
      source: kinds(schema.properties.source).filter((k) => k !== 'gcs'),
      runtime: kinds(schema.properties.runtime),
      service: kinds(schema.properties.postgres.properties.service),
      notify: ['slack', 'log'],
    };
    const viewTemplates = [...templates.files.keys()].filter((path) => path.startsWith('views/')).sort();
    const expected = Object.entries(schemaKinds).flatMap(([axis, list]) => list.map((kind) => `views/${axis}/${kind}.sh`)).sort();
    expect(viewTemplates).toEqual(expected);
  });
});
