/**
 * `pitr compile` with a lock file beside the plan (`pitr resolve`): the lock must belong
 * to the plan (else exit 1, its path, what differs and the fix, nothing written); the
 * bundle then carries lib/pinned.tsv (under SHA256SUMS) and PINNED=true, RUNBOOK.md
 * shows the pinned backup and WAL range, and the output stays deterministic. Without a
 * lock nothing but PINNED=false distinguishes the output. The bash helpers that check
 * objects against the lock (lib/archive.sh) run here on a local archive.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LockFile } from '../../src/archive/lock.js';
import { pinnedTsv } from '../../src/archive/lock-use.js';
import { compilePlan } from '../../src/compile/compile-plan.js';
import { loadTemplates } from '../../src/compile/render.js';
import { sha256 } from '../../src/plan/plan-json.js';
import { TEMPLATES_DIR } from '../../src/paths.js';
import { makeTempDir, readTree, removeTempDirs, runPitr } from './compiler-helpers.js';
import { CONTENT, lockFor, md5, planFile, SEG, sha, writeLock } from './lock-fixture.js';

afterAll(() => {
  removeTempDirs();
});

const localArchive = (archive: string) => (doc: Record<string, any>) => {
  doc.source = { kind: 'local', path: archive, base: doc.source.base, wal: doc.source.wal };
};

/** A compile through the shellcheck gate: over a minute on a 2-core runner busy with e2e tests. */
const COMPILE_WITH_SHELLCHECK_MS = 180_000;

describe('pitr compile with a lock file', () => {
  it('pins the bundle: lib/pinned.tsv under SHA256SUMS, PINNED constants, the pinned values in RUNBOOK.md', () => {
    const { file, dir, plan } = planFile();
    const lock = lockFor(plan);
    writeLock(file, lock);
    const out = join(dir, 'out');
    const result = runPitr(['compile', file, '--out', out]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const files = new Map([...readTree(join(out, plan.name))].map(([p, b]) => [p, b.toString("utf8")]));
    const tsv = files.get('lib/pinned.tsv') ?? '';
    expect(tsv).toBe(pinnedTsv(lock));
    expect(tsv.split('\n').slice(0, 3)).toEqual([
      `base\tbase/b1.tar.gz\tbase/b1.tar.gz\t20\t${md5(CONTENT['base/b1.tar.gz'])}\t`,
      `history\t000000010000000000000002.00000028.backup\twal/000000010000000000000002.00000028.backup\t10\t${md5('LABEL: b1\n')}\t`,
      `wal\t${SEG(2)}\twal/${SEG(2)}\t11\t${md5('segment two')}\t`,
    ]);
    expect(files.get('SHA256SUMS')).toContain(`${sha(tsv)}  lib/pinned.tsv\n`);
    const common = files.get('lib/constants.sh') ?? '';
    expect(common).toContain("readonly PINNED='true'");
    expect(common).toContain("readonly PINNED_BACKUP_ID='b1'");
    expect(common).toContain("readonly PINNED_TARGET_TIMELINE='1'");
    const runbook = files.get('RUNBOOK.md') ?? '';
    expect(runbook).toContain('**pinned by the plan\'s lock file**');
    expect(runbook).toContain('| WAL used | `000000010000000000000002` to `000000010000000000000004`: `3` segments on timeline `1`');
    expect(runbook).toContain('start `0/2000028` (in `000000010000000000000002`) on timeline `1`, stop `0/2000100`, STOP TIME `2024-01-15 14:00:05 UTC` = `2024-01-15T14:00:05+00:00`');
    expect(runbook).toContain(`\`base/b1.tar.gz\` (\`20\` bytes, \`ETag ${md5(CONTENT['base/b1.tar.gz'])}\`)`);
    expect(runbook).toContain('newest commit in the range `2024-01-15T14:31:02.5+00:00`');
    expect(runbook).not.toContain('chosen by preflight at run time');
  }, COMPILE_WITH_SHELLCHECK_MS);

  it('--check reads the lock too: a bundle compiled without it is stale', () => {
    const { file, dir, plan } = planFile();
    const out = join(dir, 'out');
    expect(runPitr(['compile', file, '--out', out, '--no-shellcheck']).status).toBe(0);
    expect(runPitr(['compile', file, '--out', out, '--check']).status).toBe(0);
    writeLock(file, lockFor(plan));
    const check = runPitr(['compile', file, '--out', out, '--check']);
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('stale: ');
    expect(check.stderr).toContain('lib/pinned.tsv');
  });

  it('is deterministic: the same plan and lock give the same bytes', () => {
    const { plan } = planFile();
    const templates = loadTemplates(TEMPLATES_DIR);
    const first = compilePlan(plan, templates, '0.0.0-test', lockFor(plan));
    const second = compilePlan(plan, loadTemplates(TEMPLATES_DIR), '0.0.0-test', lockFor(plan));
    expect([...second]).toEqual([...first]);
  });

  it('without a lock: no lib/pinned.tsv, and only the PINNED constants differ from a locked compile\'s scripts', () => {
    const { plan } = planFile();
    const templates = loadTemplates(TEMPLATES_DIR);
    const unlocked = compilePlan(plan, templates, '0.0.0-test');
    expect(unlocked.has('lib/pinned.tsv')).toBe(false);
    expect(unlocked.get('lib/constants.sh')).toContain("readonly PINNED='false'\n");
    expect(unlocked.get('lib/constants.sh')).toContain("readonly PINNED_BACKUP_ID=''\n");
    const locked = compilePlan(plan, templates, '0.0.0-test', lockFor(plan));
    for (const path of ['run.sh', 'phases/00-preflight.sh', 'phases/04-fetch.sh', 'lib/archive.sh']) {
      expect(locked.get(path), path).toBe(unlocked.get(path));
    }
  });
});

describe('a lock that does not fit the plan is refused: exit 1, nothing written', () => {
  const refused = (edit: (doc: Record<string, any>) => void, lockEdit: (lock: LockFile) => void = () => {}) => {
    const original = planFile();
    const lock = lockFor(original.plan);
    lockEdit(lock);
    const { file, dir } = planFile(edit);
    const lockPath = writeLock(file, lock);
    const out = join(dir, 'out');
    const result = runPitr(['compile', file, '--out', out, '--no-shellcheck']);
    expect(result.status).toBe(1);
    expect(existsSync(out)).toBe(false);
    expect(result.stderr).toContain(`${lockPath}: error: the lock file does not fit ${file}:`);
    expect(result.stderr).toContain(`fix: run pitr resolve ${file} again`);
    expect(runPitr(['compile', file, '--out', out, '--check']).status).toBe(1);
    return result.stderr;
  };

  it('a changed target', () => {
    const stderr = refused((doc) => {
      doc.target.time = '2024-01-15T14:35:00+00:00';
    });
    expect(stderr).toContain('target: the lock has time 2024-01-15T14:30:00+00:00 (timeline latest), the plan has time 2024-01-15T14:35:00+00:00 (timeline latest)');
    expect(stderr).toContain('the plan changed after pitr resolve');
  });

  it('a changed source', () => {
    const stderr = refused((doc) => {
      doc.source.bucket = 'other-bucket';
    });
    expect(stderr).toContain('source: the lock has {"base":{"layout":"tarball","prefix":"base/"},"bucket":"realestateos-backups"');
    expect(stderr).toContain('the plan has {"base":{"layout":"tarball","prefix":"base/"},"bucket":"other-bucket"');
  });

  it('any other change to the plan', () => {
    const stderr = refused((doc) => {
      doc.description = 'edited after resolving';
    });
    expect(stderr).toMatch(/the plan changed after pitr resolve \(plan\.json sha256 [0-9a-f]{64}, the lock was made for [0-9a-f]{64}\)/);
  });

  it('another plan\'s lock', () => {
    const stderr = refused(() => {}, (lock) => {
      lock.plan.name = 'another-plan';
    });
    expect(stderr).toContain('it was resolved for plan "another-plan", this plan is "realestateos-docker"');
  });

  it('names the scripts could not carry safely (control characters) or a missing ETag', () => {
    const stderr = refused(() => {}, (lock) => {
      lock.objects.wal[1]!.key = 'wal/evil\tname';
      lock.objects.wal[1]!.name = `${SEG(3)}\n`;
      delete lock.objects.base[0]!.etag;
    });
    expect(stderr).toContain('WAL segment "wal/evil\\tname": key must be non-empty text without control characters');
    expect(stderr).toContain('name must be text without control characters');
    expect(stderr).toContain('base object "base/b1.tar.gz": an S3 object needs its ETag');
  });

  it('a file that is not a lock', () => {
    const { file, dir } = planFile();
    writeFileSync(file.replace(/\.yaml$/, '.lock.json'), '{"lockVersion": 7}');
    const result = runPitr(['compile', file, '--out', join(dir, 'out'), '--no-shellcheck']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('cannot be read as a lock file: lockVersion is 7');
  });
});

// The first test compiles through the shellcheck gate (the others reuse --no-shellcheck).
describe('lib/archive.sh checks objects against the lock (local archive, bash)', { timeout: COMPILE_WITH_SHELLCHECK_MS }, () => {
  let compiledLocal = false;
  /** A locked local bundle over a fake archive (compiled through the shellcheck gate),
   *  fresh for each test; runs SCRIPT after sourcing common.sh and archive.sh. */
  function lockedLocalBundle(): { archive: string; bash: (script: string) => { status: number; out: string } } {
    const archive = makeTempDir('pitr-archive-');
    for (const [key, content] of Object.entries(CONTENT)) {
      mkdirSync(join(archive, key, '..'), { recursive: true });
      writeFileSync(join(archive, key), content);
    }
    const { file, dir, plan } = planFile(localArchive(archive));
    writeLock(file, lockFor(plan));
    const out = join(dir, 'out');
    if (!compiledLocal) {
      expect(runPitr(['compile', file, '--out', out]).status).toBe(0);
      compiledLocal = true;
    } else {
      expect(runPitr(['compile', file, '--out', out, '--no-shellcheck']).status).toBe(0);
    }
    const bundle = join(out, plan.name);
    mkdirSync(join(dir, 'state'));
    const bash = (script: string) => {
      try {
        const stdout = execFileSync('bash', ['-c', `set -Eeuo pipefail\nsource lib/common.sh\nsource lib/archive.sh\n${script}`], {
          cwd: bundle,
          encoding: 'utf8',
          env: { PATH: process.env.PATH, PITR_STATE_DIR: join(dir, 'state') },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        return { status: 0, out: stdout };
      } catch (error) {
        const e = error as { status: number; stdout: string; stderr: string };
        return { status: e.status, out: `${e.stdout}${e.stderr}` };
      }
    };
    return { archive, bash };
  }

  it('pinned_allows: pinned names only', () => {
    const { bash } = lockedLocalBundle();
    const allows = (name: string) => bash(`status=0; pinned_allows '${name}' || status=$?; echo "$status"`).out.trim().split('\n').at(-1);

    expect(allows(SEG(3))).toBe('0');
    expect(allows('000000010000000000000002.00000028.backup')).toBe('0');
    expect(allows(SEG(5))).toBe('1');
    expect(allows('00000002.history')).toBe('1');
    expect(allows('wal/000000010000000000000003')).toBe('1');
    expect(bash(`rm lib/pinned.tsv; pinned_allows ${SEG(3)}`).status).toBe(2);
  });

  it('pinned_verify_file: the pinned bytes pass; other bytes of the same size fail with expected and found', () => {
    const { archive, bash } = lockedLocalBundle();
    expect(bash(`pinned_verify_file wal/${SEG(2)} ${archive}/wal/${SEG(2)}`).status).toBe(0);
    writeFileSync(join(archive, 'other'), 'segment tw0');
    const wrong = bash(`pinned_verify_file wal/${SEG(2)} ${archive}/other`);
    expect(wrong.status).toBe(1);
    expect(wrong.out).toContain(`${archive}/wal/${SEG(2)} is not the object pitr resolve pinned: its sha256 is ${sha('segment tw0')}, the lock has ${sha('segment two')} (11 bytes)`);
    expect(wrong.out).toContain('the archive changed after pitr resolve: put the pinned object back, or run pitr resolve again and recompile the plan');
    const longer = bash(`pinned_verify_file wal/${SEG(2)} ${archive}/wal/${SEG(3)}`);
    expect(longer.status).toBe(1);
    expect(longer.out).toContain('13 bytes, the lock has 11');
    const unpinned = bash(`pinned_verify_file wal/${SEG(5)} ${archive}/other`);
    expect(unpinned.status).toBe(1);
    expect(unpinned.out).toContain(`${archive}/wal/${SEG(5)} is not one of the objects the lock pins`);
  });

  it('archive_stream_checked measures the bytes as they stream; pinned_check_stream compares them', () => {
    const { archive, bash } = lockedLocalBundle();
    const streamed = bash('archive_stream_checked base/b1.tar.gz "${STATE_DIR}/checked" | cat; echo; pinned_check_stream base/b1.tar.gz "${STATE_DIR}/checked"; cat "${STATE_DIR}/checked"');
    expect(streamed.out).toBe(`not really a tarball\nsha256\t${sha('not really a tarball')}\n`);
    writeFileSync(join(archive, 'base/b1.tar.gz'), 'not really a tarbalL');
    const replaced = bash('archive_stream_checked base/b1.tar.gz "${STATE_DIR}/checked" >/dev/null; pinned_check_stream base/b1.tar.gz "${STATE_DIR}/checked"');
    expect(replaced.status).toBe(1);
    expect(replaced.out).toContain(`is not the object pitr resolve pinned: its sha256 is ${sha('not really a tarbalL')}, the lock has ${sha('not really a tarball')}`);
  });

  it('snapshot_wal_listing writes wal-objects.tsv: stored name, size, no ETag for a directory', () => {
    const { bash } = lockedLocalBundle();
    const listed = bash('mkdir -p "${STATE_DIR}/values"; snapshot_wal_listing; cat "$(state_file wal-objects.tsv)"; cat "$(state_file wal-raw.txt)"');
    expect(listed.out).toBe([
      '000000010000000000000002\t11\t',
      '000000010000000000000002.00000028.backup\t10\t',
      '000000010000000000000003\t13\t',
      '000000010000000000000004\t12\t',
      '000000010000000000000002',
      '000000010000000000000002.00000028.backup',
      '000000010000000000000003',
      '000000010000000000000004',
      '',
    ].join('\n'));
  });
});
