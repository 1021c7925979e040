// Renders mermaid diagrams the way GitHub's viewer does: the `mermaid` npm package's
// browser bundle in a real (headless) Chromium. Debian's /usr/bin/chromium, driven by
// playwright-core; nothing is downloaded. The page is a file:// HTML page in a fresh
// temporary directory that loads node_modules/mermaid/dist/mermaid.min.js.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface RenderResult {
  ok: boolean;
  /** mermaid's error message when parse or render failed. */
  error?: string;
  /** The diagram type mermaid detected (flowchart-v2, timeline, ...). */
  type?: string;
  /** The rendered SVG's text (labels), whitespace collapsed. */
  text?: string;
  svgLength?: number;
  /** Elements a hostile label must never create: <script>, <img>, on* handlers, nodes named evil. */
  injected?: string[];
}

export interface MermaidBrowser {
  mermaidVersion: string;
  render(diagram: string): Promise<RenderResult>;
  close(): Promise<void>;
}

export async function openMermaidBrowser(repoRoot: string): Promise<MermaidBrowser> {
  const dir = mkdtempSync(join(tmpdir(), 'pitr-mermaid-'));
  const bundle = pathToFileURL(join(repoRoot, 'node_modules', 'mermaid', 'dist', 'mermaid.min.js')).href;
  const page = join(dir, 'index.html');
  writeFileSync(page, `<!doctype html>
<html><head><meta charset="utf-8"><title>mermaid</title>
<script src="${bundle}"></script>
<script>mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });</script>
</head><body><div id="out"></div></body></html>
`);
  let context: BrowserContext | undefined;
  try {
    // A persistent context is how playwright takes a --user-data-dir: a fresh one here.
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
    });
    const tab: Page = context.pages()[0] ?? (await context.newPage());
    await tab.goto(pathToFileURL(page).href);
    const mermaidVersion = await tab.evaluate(() => {
      const m = (globalThis as { mermaid?: { version?: string } }).mermaid;
      if (!m) throw new Error('mermaid.min.js did not load');
      return String(m.version ?? 'unknown');
    });
    let counter = 0;
    const opened = context;
    return {
      mermaidVersion,
      async render(diagram: string): Promise<RenderResult> {
        counter += 1;
        return tab.evaluate(
          async ({ text, id }) => {
            type Mermaid = {
              parse(t: string): Promise<{ diagramType: string } | false>;
              render(id: string, t: string): Promise<{ svg: string }>;
            };
            const m = (globalThis as unknown as { mermaid: Mermaid }).mermaid;
            try {
              const parsed = await m.parse(text);
              const { svg } = await m.render(id, text);
              const holder = document.getElementById('out') as HTMLElement;
              holder.innerHTML = svg;
              const shown = (holder.textContent ?? '').replace(/\s+/g, ' ').trim();
              const injected: string[] = [];
              for (const el of Array.from(holder.querySelectorAll('*'))) {
                const tag = el.tagName.toLowerCase();
                if (tag === 'script' || tag === 'img' || tag === 'iframe') injected.push(`<${tag}>`);
                for (const attr of Array.from(el.attributes)) {
                  if (/^on/i.test(attr.name)) injected.push(`${tag}[${attr.name}]`);
                }
                if (/evil|owned/.test(el.id)) injected.push(`${tag}#${el.id}`);
              }
              holder.innerHTML = '';
              return { ok: true, type: parsed ? parsed.diagramType : undefined, text: shown, svgLength: svg.length, injected };
            } catch (error) {
              const e = error as { message?: string; str?: string };
              return { ok: false, error: String(e?.str ?? e?.message ?? error) };
            }
          },
          { text: diagram, id: `diagram-${counter}` },
        );
      },
      async close(): Promise<void> {
        await opened.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await context?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
