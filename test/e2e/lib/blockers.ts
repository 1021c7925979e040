// Deterministic moments for fault injection: a "blocker" is a wrapper for one program
// (mv, cp, cat, tar, runuser ...) first on the scripts' PATH. Unarmed, it execs the real
// program at once. Armed with needles, the FIRST call whose argv contains every needle
// records that it was reached and then waits, before running the real program, until
// the test releases it (or kills it with its process group). Every other call passes.
//
// So a test can stop a script exactly "after the data directory was renamed aside,
// before the recovered one is moved in" (block `mv -T -- <work>/data <dataDir>`), or
// stop the side instance's restore_command on one WAL segment.
//
// Wrappers run as root or as postgres (runuser -u postgres -- tar ...): their state
// directory is world-writable, inside the 0755 harness root.

import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { waitFor } from './exec.js';
import { shellQuote } from './postgres.js';

export interface Blocker {
  program: string;
  /** Resolves when a call matched, with the argv that matched. */
  reached(timeoutMs?: number): Promise<string>;
  /** Has a call matched yet? */
  isReached(): boolean;
  /** Let the blocked call (if any) run the real program. */
  release(): void;
}

export interface Blockers {
  /** Put first on the PATH of the scripts under test. */
  binDir: string;
  /** Arm a one-shot block on PROGRAM for the first call whose argv contains every needle. */
  block(program: string, needles: string[]): Blocker;
  /** Release every blocker (for cleanup: a blocked restore_command must not hang forever). */
  releaseAll(): void;
}

/** Where PROGRAM is on PATH, ignoring our own wrappers. */
function realProgram(program: string, exclude: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || dir === exclude) continue;
    const candidate = join(dir, program);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${program} not found on PATH`);
}

function wrapperScript(program: string, stateDir: string, real: string): string {
  return `#!/usr/bin/env bash
# e2e blocker for ${program}: see test/e2e/lib/blockers.ts
state=${shellQuote(stateDir)}
if [[ -f "$state/armed" ]]; then
  args=" $* "
  match=1
  while IFS= read -r needle; do
    [[ -z "$needle" || "$args" == *"$needle"* ]] || match=0
  done <"$state/needles"
  # mkdir is atomic: of parallel matching calls, exactly one blocks.
  if ((match)) && mkdir "$state/claimed" 2>/dev/null; then
    printf '%s\\n' "$*" >"$state/reached.tmp" && mv -f "$state/reached.tmp" "$state/reached"
    while [[ ! -f "$state/release" ]]; do sleep 0.1; done
  fi
fi
exec ${shellQuote(real)} "$@"
`;
}

export function installBlockers(root: string): Blockers {
  const dir = join(root, 'blockers');
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(binDir, 0o755);
  const states = new Map<string, string>();

  const stateOf = (program: string): string => {
    if (!/^[a-z_][a-z0-9_.-]*$/.test(program)) throw new Error(`not a program name: ${program}`);
    let stateDir = states.get(program);
    if (!stateDir) {
      stateDir = join(dir, 'state', program);
      mkdirSync(stateDir, { recursive: true });
      chmodSync(stateDir, 0o777);
      const wrapper = join(binDir, program);
      writeFileSync(wrapper, wrapperScript(program, stateDir, realProgram(program, binDir)));
      chmodSync(wrapper, 0o755);
      states.set(program, stateDir);
    }
    return stateDir;
  };

  const releaseAll = (): void => {
    for (const stateDir of states.values()) {
      rmSync(join(stateDir, 'armed'), { force: true });
      writeFileSync(join(stateDir, 'release'), '');
    }
  };

  return {
    binDir,
    releaseAll,
    block(program, needles) {
      const stateDir = stateOf(program);
      for (const name of ['armed', 'claimed', 'reached', 'release']) rmSync(join(stateDir, name), { recursive: true, force: true });
      writeFileSync(join(stateDir, 'needles'), needles.map((n) => `${n}\n`).join(''));
      writeFileSync(join(stateDir, 'armed'), '');
      const reachedFile = join(stateDir, 'reached');
      return {
        program,
        isReached: () => existsSync(reachedFile),
        reached: (timeoutMs = 300_000) =>
          waitFor(async () => (existsSync(reachedFile) ? readFileSync(reachedFile, 'utf8').trim() : undefined), {
            description: `a call of ${program} containing ${JSON.stringify(needles)}`,
            timeoutMs,
          }),
        release: () => {
          rmSync(join(stateDir, 'armed'), { force: true });
          writeFileSync(join(stateDir, 'release'), '');
        },
      };
    },
  };
}
