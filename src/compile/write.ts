import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { InternalError } from '../plan/findings.js';
import { runShellcheck } from './shellcheck.js';

export interface WriteOptions {
  shellcheck: boolean;
}

/** Executable bits are part of the output: scripts 0755, everything else 0644. */
function modeFor(path: string): number {
  return path.endsWith('.sh') ? 0o755 : 0o644;
}

function listFiles(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, base));
    else out.push(relative(base, full));
  }
  return out.sort();
}

/**
 * Writes a rendered bundle to DIR/<name>/ all at once: into a temp directory beside it,
 * shellchecked there, then renamed over the old one. A failure leaves the old output intact.
 */
export function writeBundle(outDir: string, name: string, files: Map<string, string>, opts: WriteOptions): void {
  mkdirSync(outDir, { recursive: true });
  const finalDir = join(outDir, name);
  const tempDir = join(outDir, `.${name}.tmp-${process.pid}`);
  rmSync(tempDir, { recursive: true, force: true });
  try {
    for (const [path, text] of files) {
      const full = join(tempDir, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
      chmodSync(full, modeFor(path));
    }
    if (opts.shellcheck) {
      const scripts = [...files.keys()].filter((p) => p.endsWith('.sh'));
      const findings = runShellcheck(tempDir, scripts);
      if (findings.length > 0) {
        const lines = findings.map((f) => `${join(finalDir, f.file)}:${f.line}:${f.column}: ${f.level}: ${f.message} [SC${f.code}]`);
        throw new InternalError(`shellcheck rejected the generated scripts (nothing was written):\n${lines.join('\n')}`);
      }
    }
    const oldDir = join(outDir, `.${name}.old-${process.pid}`);
    if (existsSync(finalDir)) renameSync(finalDir, oldDir);
    renameSync(tempDir, finalDir);
    rmSync(oldDir, { recursive: true, force: true });
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
  }
}

/** Paths under DIR/<name>/ that differ from a fresh compile (changed, missing, extra, or mode). */
export function diffBundle(outDir: string, name: string, files: Map<string, string>): string[] {
  const finalDir = join(outDir, name);
  const differing: string[] = [];
  for (const [path, text] of files) {
    const full = join(finalDir, path);
    if (!existsSync(full)) differing.push(`${full} (missing)`);
    else if (readFileSync(full, 'utf8') !== text) differing.push(`${full} (content differs)`);
    else if ((statSync(full).mode & 0o777) !== modeFor(path)) differing.push(`${full} (mode differs)`);
  }
  for (const path of listFiles(finalDir)) {
    if (!files.has(path) && !path.startsWith('state/')) differing.push(`${join(finalDir, path)} (not produced by the compiler)`);
  }
  return differing;
}
