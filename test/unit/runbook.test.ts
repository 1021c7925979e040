/**
 * RUNBOOK.md: plan values in mermaid labels are escaped so no value can change a
 * diagram (the e2e test runbook-diagrams.test.ts renders them in Chromium); the
 * runbook shows this plan's concrete commands and paths; a lock's pinned backup fills
 * the timeline.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LockFile } from '../../src/archive/lock.js';
import { mermaidLabel } from '../../src/compile/mermaid.js';
import { runbookPinnedFromLock } from '../../src/compile/runbook-facts.js';
import { loadTemplates, TEMPLATE_HELPERS } from '../../src/compile/render.js';
import { TEMPLATES_DIR } from '../../src/paths.js';
import { compileRunbook, hostilePlans, HOSTILE, HOSTILE_SHORT, HOSTILE_VALUES, mermaidBlocks } from '../runbook-fixtures.js';
import { loadExamplePlan } from './compiler-helpers.js';

/** What a browser shows for a label mermaid accepted: entity codes decoded. */
function shown(label: string): string {
  return label.replace(/#(\d+);/g, (_m, code: string) => String.fromCodePoint(Number(code))).replaceAll('\u200b', '');
}

/** Every quoted label of a mermaid block. */
function labels(block: string): string[] {
  return [...block.matchAll(/"([^"\n]*)"/g)].map((m) => m[1] ?? '');
}

describe('mermaidLabel', () => {
  it.each(HOSTILE_VALUES.map((v) => [v]))('%s', (value) => {
    const label = mermaidLabel(value);
    expect(label).toMatch(/^(?:[A-Za-z0-9 .,/_+=@()'-]|#\d+;)*$/);
    expect(shown(label)).toBe(value);
  });

  it('keeps plain values readable', () => {
    expect(mermaidLabel('/var/lib/postgresql/15/main')).toBe('/var/lib/postgresql/15/main');
    expect(mermaidLabel(5433)).toBe('5433');
    expect(mermaidLabel('2024-01-15T14:30:00+00:00')).toBe('2024-01-15T14#58;30#58;00+00#58;00');
  });

  it('never lets a character that means something to mermaid or markdown through (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), (a, b) => {
        for (const value of [a, b, `${a}"]%%{${b}}%%\n\`\`\`#;`]) {
          const label = mermaidLabel(value);
          expect(label).toMatch(/^(?:[A-Za-z0-9 .,/_+=@()'-]|#\d+;)*$/);
          expect(shown(label)).toBe(value);
          // mermaid's own entity placeholders never appear: they would be decoded again.
          expect(shown(label.replaceAll('#8203;', '\u0000'))).not.toMatch(/ﬂ°|¶ß/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('is a registered template helper', () => {
    expect(TEMPLATE_HELPERS).toContain('mermaid');
  });
});

describe('RUNBOOK.md of hostile plans', () => {
  const cases = hostilePlans().map((c) => ({ ...c, runbook: compileRunbook(c.plan, c.lock) }));

  it.each(cases.map((c) => [c.title, c] as const))('%s: two diagrams, every label escaped, no value loose', (_t, c) => {
    const blocks = mermaidBlocks(c.runbook);
    expect(blocks).toHaveLength(2);
    for (const block of blocks) {
      for (const line of block.split('\n')) {
        // Outside labels, only the template's own syntax: ids, arrows, shapes, classDef.
        const outside = line.replace(/"[^"]*"/g, '""');
        expect(outside, line).toMatch(/^(?:flowchart (?:LR|TD)|\s*(?:classDef|class) [^"]*|\s*[a-z0-9]+[[(]{1,2}""[\])]{1,2}(?: --> [a-z0-9]+[[(]{1,2}""[\])]{1,2})?|\s*[a-z0-9]+ (?:-->|-\.->|==>|-\.-)(?:\|""\|)? [a-z0-9]+(?:[[(]{1,2}""[\])]{1,2})?|)$/);
      }
      for (const label of labels(block)) {
        expect(label).toMatch(/^(?:[A-Za-z0-9 .,/_+=@()'-]|#\d+;|<br\/>)*$/);
      }
    }
    const text = blocks.join('\n');
    // A value with a character mermaid reads never appears raw ("click p0 call alert(3)"
    // may: inside a quoted label it is text).
    for (const value of [HOSTILE, HOSTILE_SHORT, ...HOSTILE_VALUES].filter((v) => /[^A-Za-z0-9 .,/_+=@()'-]/.test(v))) {
      expect(text).not.toContain(value);
    }
    // ...but every value is there, escaped.
    expect(text).toContain(mermaidLabel(c.plan.postgres.database));
    expect(text).toContain(mermaidLabel(c.plan.recovery.workDir.replace(/\/+$/, '')));
  });

  it('the description cannot open a code fence or an HTML comment that swallows the diagrams', () => {
    const { runbook } = cases[0]!;
    const line = runbook.split('\n').find((l) => l.includes('Hostile values'));
    expect(line?.startsWith('> ')).toBe(true);
    expect(runbook.match(/^```mermaid$/gm)).toHaveLength(2);
    expect(runbook.match(/^```$/gm)).toHaveLength(2);
  });

  it('a pinned backup shows its real positions; without a lock the rule is shown', () => {
    const pinned = cases.find((c) => c.lock)!;
    const timeline = mermaidBlocks(pinned.runbook)[0]!;
    expect(timeline).toContain(`base backup ${mermaidLabel(HOSTILE)}`);
    expect(timeline).toContain('start 0/2000028 in 000000010000000000000002');
    expect(timeline).toContain('6 segments');
    expect(timeline).not.toContain('chosen by preflight at run time');
    expect(pinned.runbook).toContain('The lock file pins the base backup');
    const unpinned = mermaidBlocks(cases[0]!.runbook)[0]!;
    expect(unpinned).toContain('the newest one that ENDED before the target<br/>chosen by preflight at run time');
    expect(unpinned).toContain('from that backup#39;s start up to the target'.replace('#39;', "'"));
  });
});

describe('RUNBOOK.md of the example plans shows the concrete values and commands', () => {
  it('docker + systemd', () => {
    const runbook = compileRunbook(loadExamplePlan('realestateos-docker'), null);
    for (const expected of [
      '`2024-01-15T14:30:00+00:00`',
      '`docker compose -f /srv/realestateos/docker-compose.yml ps --services --status running`',
      '`docker compose -f /srv/realestateos/docker-compose.yml stop <recorded services>`',
      '`systemctl stop postgresql@13-main`',
      '`mv -T -- /var/lib/postgresql/13/main /var/lib/postgresql/13/main.pre-pitr-<run id>`',
      '`mv -T -- /var/lib/postgresql/13/main.pre-pitr-<run id> /var/lib/postgresql/13/main`',
      '`/var/backups/postgresql/realestateos-docker-pre-pitr-<run id>.dump`',
      'port `5433`, socket directory `/var/lib/postgresql/recovery/run`',
      '`s3://realestateos-backups/base/<id>.tar.gz`',
      '`realestateos_pre_pitr`',
    ]) {
      expect(runbook).toContain(expected);
    }
  });

  it('k8s + pg_ctlcluster, target written with +01:00', () => {
    const runbook = compileRunbook(loadExamplePlan('realestateos-k8s'), null);
    for (const expected of [
      '| Target as written in the plan | `2024-01-15T15:30:00+01:00`',
      '`time 2024-01-15T14:30:00+00:00, exclusive, timeline latest`',
      "`kubectl --context prod --namespace realestateos get deployment api -o 'jsonpath={.spec.replicas}'`",
      '`kubectl --context prod --namespace realestateos scale deployment celery-worker --replicas=0`',
      '`kubectl --context prod --namespace realestateos scale deployment api --replicas=<recorded count>`',
      '`pg_ctlcluster 15 main stop -m fast`',
      '`s3://realestateos-backups/base/<id>/pg_wal.tar.gz`',
      '`s3://realestateos-backups/wal/<segment>.gz`',
      '`aws --region eu-central-1 --endpoint-url https://minio.internal:9000 s3 cp --only-show-errors s3://realestateos-backups/<key> -`',
    ]) {
      expect(runbook).toContain(expected);
    }
  });

  it('a path with a space is shown shell-quoted in commands', () => {
    const plan = loadExamplePlan('realestateos-docker');
    plan.postgres.dataDir = "/srv/pg data/it's main";
    const runbook = compileRunbook(plan, null);
    expect(runbook).toContain("`mv -T -- '/srv/pg data/it'\\''s main' '/srv/pg data/it'\\''s main'.pre-pitr-<run id>`");
  });
});

describe('runbookPinnedFromLock', () => {
  it('takes the backup, the WAL range and the warnings from a lock file', () => {
    const lock = {
      lockVersion: 1,
      plan: { name: 'p', sha256: 'x' },
      target: { kind: 'time', value: '2024-01-15T14:30:00+00:00', timeline: 'latest' },
      source: { kind: 'local', bucket: null, region: null, endpoint: null, path: '/a', base: { prefix: 'base/', layout: 'tarball' }, wal: { prefix: 'wal/', compression: 'none' } },
      backup: {
        id: 'b1', startLsn: '0/2000028', stopLsn: '0/2000138', startTimeline: 1, stopTimeline: 1,
        startWalFile: '000000010000000000000002', stopTime: '2024-01-15 23:00:01 JST', stopTimeUtc: '2024-01-15T14:00:01+00:00',
        historyFile: { name: '000000010000000000000002.00000028.backup', key: 'wal/000000010000000000000002.00000028.backup', size: 300 },
      },
      targetTimeline: 1,
      chain: [{ timeline: 1, beginLsn: '0/0' }],
      walSegmentSize: 16777216,
      walRange: { first: '000000010000000000000002', last: '000000010000000000000004', segments: 3, endsAt: 'archive-end', latestTransactionTime: '2024-01-15T14:31:00+00:00' },
      objects: { base: [], history: [], wal: [] },
      warnings: ['w'],
    } satisfies LockFile;
    expect(runbookPinnedFromLock(lock)).toEqual({
      backupId: 'b1',
      startLsn: '0/2000028',
      stopLsn: '0/2000138',
      startWalFile: '000000010000000000000002',
      stopTime: '2024-01-15 23:00:01 JST',
      stopTimeUtc: '2024-01-15T14:00:01+00:00',
      backupTimeline: 1,
      targetTimeline: 1,
      baseObjects: [],
      objectCounts: { base: 0, history: 1, wal: 0 },
      walFirst: '000000010000000000000002',
      walLast: '000000010000000000000004',
      walSegments: 3,
      walEndsAt: 'archive-end',
      latestTransactionTime: '2024-01-15T14:31:00+00:00',
      warnings: ['w'],
    });
  });
});

describe('RUNBOOK.md known failures', () => {
  it('every message the table quotes is one the scripts print or diagnose (the table follows the templates)', () => {
    const templates = loadTemplates(TEMPLATES_DIR);
    const scripts = [...templates.files.entries(), ...templates.partials.entries()]
      .filter(([path]) => !path.endsWith('.md'))
      .map(([, text]) => text)
      .join('\n');
    const runbook = compileRunbook(loadExamplePlan('realestateos-docker'), null);
    const section = runbook.slice(runbook.indexOf('## Known failures'));
    expect(section).toContain('Server log line');
    const quoted = section
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...(line.split(' | ')[0] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? ''));
    expect(quoted.length).toBeGreaterThanOrEqual(10);
    for (const message of quoted) {
      for (const fragment of message.split('...').map((f) => f.trim()).filter(Boolean)) {
        expect(scripts, `"${fragment}" (from "${message}") is in no script template`).toContain(fragment);
      }
    }
  });
});
