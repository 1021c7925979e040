/**
 * `pitr bundle PLAN [--out DIR]`: the compiled scripts of one plan as a tarball plus its
 * sha256, to copy to an air-gapped database host. The tarball is compiled fresh (with
 * the shellcheck gate) and packed deterministically: sorted names, fixed mtime and
 * owner, gzip without a timestamp — the same plan gives the same bytes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLockRejected, readLockFor } from '../archive/lock-read.js';
import { LockRejected } from '../archive/lock-use.js';
import { compilePlan } from '../compile/compile-plan.js';
import { loadTemplates } from '../compile/render.js';
import { writeBundle } from '../compile/write.js';
import { InternalError } from '../plan/findings.js';
import { compilerVersion, TEMPLATES_DIR } from '../paths.js';
import { createHash } from 'node:crypto';
import { readPlan } from './read-plan.js';

export interface BundleOptions {
  out: string;
  shellcheck: boolean;
}

export interface BundleIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** Packs DIR/NAME into a reproducible .tar.gz (GNU tar options; gzip -n drops the name and time). */
function packDeterministic(parent: string, name: string, tarball: string): void {
  const tar = spawnSync('tar', [
    '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--mode=u+rwX,go+rX,go-w',
    '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    '-C', parent, '-cf', '-', name,
  ], { maxBuffer: 1 << 30 });
  if (tar.status !== 0) throw new InternalError(`tar failed: ${tar.stderr.toString()}`);
  const gzip = spawnSync('gzip', ['-n', '-9'], { input: tar.stdout, maxBuffer: 1 << 30 });
  if (gzip.status !== 0) throw new InternalError(`gzip failed: ${gzip.stderr.toString()}`);
  writeFileSync(tarball, gzip.stdout);
}

export function runBundle(planFile: string, opts: BundleOptions, io: BundleIO): number {
  const read = readPlan(planFile, io, 'nothing was written');
  if (!read.ok) return read.exitCode;
  const plan = read.plan;
  const name = plan.name;
  let files: Map<string, string>;
  try {
    files = compilePlan(plan, loadTemplates(TEMPLATES_DIR), compilerVersion(), readLockFor(planFile, plan));
  } catch (error) {
    if (!(error instanceof LockRejected)) throw error;
    io.stderr(`${formatLockRejected(error, planFile)}nothing was written\n`);
    return 1;
  }
  const staging = mkdtempSync(join(tmpdir(), 'pitr-bundle-'));
  try {
    writeBundle(staging, name, files, { shellcheck: opts.shellcheck });
    mkdirSync(opts.out, { recursive: true });
    const tarball = join(opts.out, `${name}.tar.gz`);
    const partial = `${tarball}.part`;
    packDeterministic(staging, name, partial);
    const digest = createHash('sha256').update(readFileSync(partial)).digest('hex');
    renameSync(partial, tarball);
    writeFileSync(`${tarball}.sha256`, `${digest}  ${name}.tar.gz\n`);
    io.stdout(`${tarball} (sha256 ${digest})\n`);
    io.stdout(`on the host: sha256sum -c ${name}.tar.gz.sha256 && tar -xzf ${name}.tar.gz && ${name}/drill.sh\n`);
    return 0;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
