/**
 * Plans whose values are hostile to mermaid and markdown, for the RUNBOOK tests (the
 * unit test of the escaping and the e2e test that renders every diagram in Chromium).
 * Every plan goes through the real validator: each value is one a user can write.
 */
import { stringify } from 'yaml';
import { lockSourceOf, type LockFile } from '../src/archive/lock.js';
import { compilePlan } from '../src/compile/compile-plan.js';
import { loadTemplates } from '../src/compile/render.js';
import type { NormalizedPlan } from '../src/plan/normalized.js';
import { validatePlanText } from '../src/plan/validate.js';
import { TEMPLATES_DIR } from '../src/paths.js';

/** Text that would end a label, start a directive, close a fence, add a statement,
 *  inject HTML or forge an entity code, if it reached a diagram unescaped. */
export const HOSTILE_VALUES = [
  'x"] --> evil["owned',
  '%%{init: {"theme": "dark", "securityLevel": "loose"}}%%',
  '#quot; #35; #lt; ;; ##',
  'ﬂ°°60¶ß ﬂ°lt¶ß',
  '<script>alert(1)</script><img src=x onerror=alert(2)>',
  '```mermaid',
  '|edge| -.-> end',
  'style p0 fill:#f00;',
  'classDef danger fill:#000;',
  '\\ backslash `tick` ~~~~ {{braces}} [brackets] (parens)',
  'click p0 call alert(3)',
  '&lt;b&gt; &amp; é 💥 日本',
] as const;

/** One line of all of them (plan paths and names cannot hold line breaks). */
export const HOSTILE = HOSTILE_VALUES.join(' ');
/** For fields with a length limit (a database name has at most 63 bytes). */
export const HOSTILE_SHORT = 'd"] --> evil["y #35; ;%%{init}%% <i>`|\\ é';

function example(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    version: 1,
    name: 'hostile-runbook',
    description: 'Hostile values: ``` %%{init}%% <!-- "quotes" #35; |pipes|',
    target: { time: '2024-01-15T15:30:00.123456+01:00', inclusive: false },
    postgres: {
      version: 15,
      database: HOSTILE_SHORT,
      dataDir: `/var/lib/postgresql/${HOSTILE}/main`,
      service: { kind: 'pg_ctl', logFile: `/var/log/${HOSTILE}.log` },
    },
    source: { kind: 'local', path: `/mnt/${HOSTILE}`, base: { prefix: 'base/', layout: 'tarball' }, wal: { prefix: 'wal/', compression: 'zstd' } },
    recovery: { workDir: `/var/lib/postgresql/${HOSTILE}/recovery`, port: 5433 },
    runtime: { kind: 'docker', compose: { command: 'docker compose', file: `/srv/${HOSTILE}/compose.yml`, services: ['api'] } },
    safetyBackup: { dir: `/backups/${HOSTILE}` },
    verify: {
      rowCounts: ['accounts'],
      queries: [{ name: `q ${HOSTILE_SHORT}`, sql: `SELECT '${HOSTILE.replaceAll("'", "''")}'`, expect: HOSTILE }],
    },
    ...overrides,
  };
}

function validated(doc: Record<string, unknown>): NormalizedPlan {
  const { plan, findings } = validatePlanText('hostile-runbook.yaml', stringify(doc));
  if (!plan) throw new Error(`the hostile fixture is not a valid plan:\n${findings.map((f) => `${f.pointer}: ${f.message}`).join('\n')}`);
  return plan;
}

/** Plans covering every branch of the diagrams with hostile values where a value is printed. */
export function hostilePlans(): { title: string; plan: NormalizedPlan; lock: LockFile | null }[] {
  const timeTarget = validated(example({}));
  const restorePoint = validated(example({
    name: 'hostile-runbook-restore-point',
    target: { restorePoint: HOSTILE_SHORT, timeline: 'current' },
    source: { kind: 'local', path: `/mnt/${HOSTILE}`, base: { prefix: 'base/', layout: 'pg_basebackup' }, wal: { prefix: 'wal/' }, backup: 'base_1:x.y-z' },
    runtime: { kind: 'k8s', k8s: { context: 'prod', namespace: 'app', deployments: ['api', 'worker'] } },
    safetyBackup: { dir: `/backups/${HOSTILE}`, pgDump: false },
  }));
  const immediate = validated(example({
    name: 'hostile-runbook-immediate',
    target: { immediate: true },
    runtime: { kind: 'none' },
  }));
  // A lock whose free text is hostile (the backup label, STOP TIME, a warning); object
  // keys stay plain: the compiler refuses control characters in them (lock-use.ts).
  const wal = (tli: number, n: number) => `0000000${tli}0000000000000000${n}`;
  const object = (key: string) => ({ key, size: 16777216, sha256: 'ab'.repeat(32) });
  const lock: LockFile = {
    lockVersion: 1,
    plan: { name: timeTarget.name, sha256: 'not checked by compilePlan' },
    target: { kind: timeTarget.target.kind, value: timeTarget.target.value, timeline: timeTarget.target.timeline },
    source: lockSourceOf(timeTarget),
    backup: {
      id: HOSTILE,
      startLsn: '0/2000028',
      stopLsn: '0/2000100',
      startTimeline: 1,
      stopTimeline: 1,
      startWalFile: '000000010000000000000002',
      stopTime: `2024-01-15 14:00:05 ${HOSTILE}`,
      stopTimeUtc: '2024-01-15T13:00:05+00:00',
      historyFile: { name: '000000010000000000000002.00000028.backup', ...object('wal/000000010000000000000002.00000028.backup.zst') },
    },
    targetTimeline: 2,
    chain: [{ timeline: 1, beginLsn: '0/0' }, { timeline: 2, beginLsn: '0/5000000' }],
    walSegmentSize: 16777216,
    walRange: { first: wal(1, 2), last: wal(2, 7), segments: 6, endsAt: 'archive-end', latestTransactionTime: '2024-01-15T14:31:02.5+00:00' },
    objects: {
      base: [object('base/hostile.tar.gz')],
      history: [{ name: '00000002.history', ...object('wal/00000002.history.zst') }],
      wal: [wal(1, 2), wal(1, 3), wal(1, 4), wal(2, 5), wal(2, 6), wal(2, 7)].map((name) => ({ name, ...object(`wal/${name}.zst`) })),
    },
    warnings: [`a warning: ${HOSTILE}`],
  };
  return [
    { title: 'time target, hostile paths and names', plan: timeTarget, lock: null },
    { title: 'time target pinned by a hostile lock', plan: timeTarget, lock },
    { title: 'hostile restore point, named hostile backup, k8s', plan: restorePoint, lock: null },
    { title: 'immediate target, no runtime', plan: immediate, lock: null },
  ];
}

/** RUNBOOK.md compiled from a plan (and optional lock), in memory. */
export function compileRunbook(plan: NormalizedPlan, lock: LockFile | null): string {
  return compilePlan(plan, loadTemplates(TEMPLATES_DIR), '0.0.0-test', lock).get('RUNBOOK.md') ?? '';
}

/** The ```mermaid blocks of a markdown text, in order. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}
