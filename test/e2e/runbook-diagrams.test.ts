// Every mermaid diagram a reviewer will see must render on GitHub. This renders each
// ```mermaid block of every committed out/*/RUNBOOK.md, and of RUNBOOKs compiled from
// plans full of values hostile to mermaid and markdown, with the `mermaid` package in
// headless Chromium (Debian's /usr/bin/chromium through playwright-core), and fails
// with the diagram and mermaid's own error on any syntax error. For the hostile plans
// it also checks that every value is shown exactly as written and created no element.

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileRunbook, hostilePlans, HOSTILE, HOSTILE_SHORT, mermaidBlocks } from '../runbook-fixtures.js';
import { CHROMIUM, openMermaidBrowser, type MermaidBrowser } from './lib/mermaid-browser.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(REPO_ROOT, 'out');

interface Diagram {
  name: string;
  text: string;
  /** Values that must appear verbatim in the rendered labels. */
  mustShow: string[];
}

function committedDiagrams(): Diagram[] {
  return readdirSync(OUT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(OUT, e.name, 'RUNBOOK.md')))
    .map((e) => e.name)
    .sort()
    .flatMap((name) =>
      mermaidBlocks(readFileSync(join(OUT, name, 'RUNBOOK.md'), 'utf8')).map((text, i) => ({ name: `out/${name}/RUNBOOK.md #${i + 1}`, text, mustShow: [] })),
    );
}

function hostileDiagrams(): Diagram[] {
  return hostilePlans().flatMap(({ title, plan, lock }) => {
    const blocks = mermaidBlocks(compileRunbook(plan, lock));
    const [timeline = '', phases = ''] = blocks;
    const timelineShows: string[] = [];
    if (plan.target.kind === 'restorePoint') timelineShows.push(plan.target.value);
    if (plan.source.backup !== 'auto' && !lock) timelineShows.push(plan.source.backup);
    if (lock) timelineShows.push(lock.backup.id, lock.backup.stopTime);
    return [
      { name: `${title}: timeline`, text: timeline, mustShow: timelineShows },
      { name: `${title}: phases`, text: phases, mustShow: [plan.postgres.database, plan.recovery.workDir] },
      ...blocks.slice(2).map((text, i) => ({ name: `${title}: diagram ${i + 3}`, text, mustShow: [] })),
    ];
  });
}

const COMMITTED = committedDiagrams();
const HOSTILE_DIAGRAMS = hostileDiagrams();

let browser: MermaidBrowser;

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)`).toBe(true);
  browser = await openMermaidBrowser(REPO_ROOT);
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

function explain(d: Diagram, error: string | undefined): string {
  const numbered = d.text.split('\n').map((line, i) => `${String(i + 1).padStart(3)} | ${line}`).join('\n');
  return `mermaid (${browser.mermaidVersion}) cannot render ${d.name}:\n${error ?? ''}\n--- diagram ---\n${numbered}`;
}

describe('RUNBOOK diagrams render with mermaid in Chromium', () => {
  it('finds the diagrams: two in every compiled RUNBOOK (timeline, phases)', () => {
    const runbooks = readdirSync(OUT).filter((n) => existsSync(join(OUT, n, 'RUNBOOK.md')));
    expect(runbooks.length).toBeGreaterThanOrEqual(2);
    expect(COMMITTED).toHaveLength(runbooks.length * 2);
    expect(HOSTILE_DIAGRAMS).toHaveLength(hostilePlans().length * 2);
  });

  it.each(COMMITTED.map((d) => [d.name, d] as const))('%s', async (_name, d) => {
    const result = await browser.render(d.text);
    expect(result.ok, explain(d, result.error)).toBe(true);
    expect(result.type).toMatch(/^flowchart/);
  });

  it.each(HOSTILE_DIAGRAMS.map((d) => [d.name, d] as const))('hostile values: %s', async (_name, d) => {
    const result = await browser.render(d.text);
    expect(result.ok, explain(d, result.error)).toBe(true);
    expect(result.injected, 'elements created by plan values').toEqual([]);
    // (mermaidLabel puts a zero-width space inside mermaid's entity placeholders ﬂ°° and ¶ß.)
    const shown = (result.text ?? '').replaceAll('\u200b', '');
    for (const value of d.mustShow) {
      expect(shown, `the label shows ${JSON.stringify(value)} as written`).toContain(value);
    }
  });

  it('the hostile fixture really is hostile: unescaped, it breaks the diagram or adds to it', async () => {
    for (const value of [HOSTILE, HOSTILE_SHORT]) {
      const result = await browser.render(`flowchart LR\n  a["${value}"] --> b["end"]`);
      expect(!result.ok || (result.injected ?? []).length > 0, JSON.stringify(result.injected)).toBe(true);
    }
  });

  it('a syntax error fails with mermaid\'s message (the check is not vacuous)', async () => {
    const result = await browser.render('flowchart TD\n  a["unclosed] --> b');
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/Parse error|Lexical error|Expecting/);
  });
});
