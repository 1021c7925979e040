/**
 * `pitr compile PLAN... [--out DIR] [--check]`: read the plan and its lock file, if any
 * (I/O) → validate and compile (pure) → write or compare (I/O). Every plan is validated and rendered before anything is
 * written, so a bad plan among several leaves out/ untouched.
 */
import { formatLockRejected, readLockFor } from '../archive/lock-read.js';
import { LockRejected } from '../archive/lock-use.js';
import { compilePlan } from '../compile/compile-plan.js';
import { loadTemplates } from '../compile/render.js';
import { commitBundle, diffBundle, discardBundle, prepareBundle, type PreparedBundle } from '../compile/write.js';
import { compilerVersion, TEMPLATES_DIR } from '../paths.js';
import { readPlan } from './read-plan.js';

export interface CompileOptions {
  out: string;
  check: boolean;
  shellcheck: boolean;
}

export interface CompileIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

interface Compiled {
  file: string;
  name: string;
  files: Map<string, string>;
}

/** Returns the exit code: 0 ok, 1 findings (or --check differences), 2 unreadable/internal. */
export function runCompile(planFiles: string[], opts: CompileOptions, io: CompileIO): number {
  const templates = loadTemplates(TEMPLATES_DIR);
  const version = compilerVersion();
  const compiled: Compiled[] = [];
  let findings = false;
  for (const file of planFiles) {
    const read = readPlan(file, io);
    if (!read.ok && read.exitCode === 2) return 2;
    if (!read.ok) {
      findings = true;
      continue;
    }
    try {
      // A lock beside the plan (pitr resolve) pins the backup and WAL; --check reads it too.
      const lock = readLockFor(file, read.plan);
      compiled.push({ file, name: read.plan.name, files: compilePlan(read.plan, templates, version, lock) });
    } catch (error) {
      if (!(error instanceof LockRejected)) throw error;
      io.stderr(formatLockRejected(error, file));
      findings = true;
    }
  }
  if (findings) {
    io.stderr('nothing was written: fix the errors above and compile again\n');
    return 1;
  }
  const names = new Map<string, string>();
  for (const c of compiled) {
    const other = names.get(c.name);
    if (other) {
      io.stderr(`${c.file}: error: plan name "${c.name}" is also used by ${other}; each plan needs its own name\n`);
      return 1;
    }
    names.set(c.name, c.file);
  }
  if (opts.check) return checkCompiled(compiled, opts.out, io);
  // Every plan is written and shellchecked before any is put in place: one failure
  // leaves every existing output directory as it was.
  const prepared: PreparedBundle[] = [];
  try {
    for (const c of compiled) prepared.push(prepareBundle(opts.out, c.name, c.files, { shellcheck: opts.shellcheck }));
  } catch (error) {
    prepared.forEach(discardBundle);
    throw error;
  }
  prepared.forEach(commitBundle);
  for (const c of compiled) io.stdout(`${c.file} → ${opts.out}/${c.name}/ (${c.files.size} files)\n`);
  return 0;
}

function checkCompiled(compiled: Compiled[], out: string, io: CompileIO): number {
  let stale = 0;
  for (const c of compiled) {
    const differing = diffBundle(out, c.name, c.files);
    for (const d of differing) io.stderr(`stale: ${d}\n`);
    if (differing.length === 0) io.stdout(`${c.file}: ${out}/${c.name}/ is up to date\n`);
    stale += differing.length;
  }
  if (stale > 0) {
    io.stderr(`${stale} file(s) differ from a fresh compile: run pitr compile and commit the result\n`);
    return 1;
  }
  return 0;
}
