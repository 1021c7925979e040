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

/** A bundle written to its temp directory and shellchecked, not yet in place. */
export interface PreparedBundle {
  tempDir: string;
  finalDir: string;
}

/**
 * Writes a rendered bundle into a temp directory beside DIR/<name>/ and shellchecks it
 * there. Nothing in DIR/<name>/ changes; commitBundle puts it in place.
 */
export function prepareBundle(outDir: string, name: string, files: Map<string, string>, opts: WriteOptions): PreparedBundle {
  mkdirSync(outDir, { recursive: true });
  const prepared = { finalDir: join(outDir, name), tempDir: join(outDir, `.${name}.tmp-${process.pid}`) };
  rmSync(prepared.tempDir, { recursive: true, force: true });
  try {
    for (const [path, text] of files) {
      const full = join(prepared.tempDir, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, text);
      chmodSync(full, modeFor(path));
    }
    if (opts.shellcheck) {
      const scripts = [...files.keys()].filter((p) => p.endsWith('.sh'));
      const findings = runShellcheck(prepared.tempDir, scripts);
      if (findings.length > 0) {
        const lines = findings.map((f) => `${join(prepared.finalDir, f.file)}:${f.line}:${f.column}: ${f.level}: ${f.message} [SC${f.code}]`);
        throw new InternalError(`shellcheck rejected the generated scripts (nothing was written):\n${lines.join('\n')}`);
      }
    }
    return prepared;
  } catch (error) {
    discardBundle(prepared);
    throw error;
  }
}

/** Replaces DIR/<name>/ with the prepared directory (two renames). */
export function commitBundle(prepared: PreparedBundle): void {
  const oldDir = `${prepared.tempDir.replace(/\.tmp-\d+$/, '')}.old-${process.pid}`;
  if (existsSync(prepared.finalDir)) renameSync(prepared.finalDir, oldDir);
  renameSync(prepared.tempDir, prepared.finalDir);
  rmSync(oldDir, { recursive: true, force: true });
}

export function discardBundle(prepared: PreparedBundle): void {
  rmSync(prepared.tempDir, { recursive: true, force: true });
}

/** prepareBundle then commitBundle: one bundle, all or nothing. */
export function writeBundle(outDir: string, name: string, files: Map<string, string>, opts: WriteOptions): void {
  commitBundle(prepareBundle(outDir, name, files, opts));
}

/** Paths under DIR/<name>/ that differ from a fresh compile (changed, missing, extra, or mode). */
export function diffBundle(outDir: string, name: string, files: Map<string, string>): string[] {
  const finalDir = join(outDir, name);
  const differing: string[] = [];
  for (const [path, text] of files) {
    const full = join(finalDir, path);
    if (!existsSync(full)) differing.push(`${full} (missing)`);
    else if (readFileSync(full, 'utf8') !== text) differing.push(`${full} (content differs)`);
    // git records only the executable bit; group/other bits follow the checkout's umask.
    else if (((statSync(full).mode & 0o111) !== 0) !== path.endsWith('.sh')) differing.push(`${full} (executable bit differs)`);
  }
  for (const path of listFiles(finalDir)) {
    if (!files.has(path) && !path.startsWith('state/')) differing.push(`${join(finalDir, path)} (not produced by the compiler)`);
  }
  return differing;
}
