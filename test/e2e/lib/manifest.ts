// Checksum manifests: proof that production's data directory is unchanged.
//
// Two kinds, because a RUNNING server rewrites much of its own data directory (WAL,
// pg_control and pg_stat at every checkpoint and shutdown, postmaster.pid, relcache
// init files) and the scripts under test must be judged on what THEY changed:
//
// - dataDirManifest(dir): every file and symlink under a directory, path → sha256. Exact;
//   only meaningful while no server runs in that directory (e.g. the directory finalize
//   renamed aside, compared with what rollback moved back before it is started).
// - relationManifest(server, dataDir, db): the relation files (every fork and segment)
//   of the application database's own tables, indexes, sequences and TOAST, after a
//   CHECKPOINT (so any write is on disk), plus the data directory's inode (it was never
//   swapped or recreated). After quiesce() (autovacuum off for those tables, VACUUM
//   FREEZE, CHECKPOINT) reading a table (count(*), pg_dump) no longer writes to its pages,
//   so these files change only if something wrote rows: equal manifests mean the data
//   is byte-for-byte what it was, while the server keeps serving.

import { createHash } from 'node:crypto';
import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { psqlAt, quoteIdent, type ServerAddress } from './postgres.js';

export type Manifest = Record<string, string>;

async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Every file (sha256) and symlink (its target) under `dir`, by relative path. */
export async function dataDirManifest(dir: string): Promise<Manifest> {
  const manifest: Manifest = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    const full = join(entry.parentPath, entry.name);
    const rel = relative(dir, full);
    if (entry.isSymbolicLink()) manifest[rel] = `symlink ${await readlink(full)}`;
    else if (entry.isFile()) manifest[rel] = await sha256File(full);
    else if (entry.isDirectory()) manifest[`${rel}/`] = 'dir';
  }
  return Object.fromEntries(Object.entries(manifest).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Freeze the application database so that reading it never rewrites a page. */
export async function quiesce(server: ServerAddress, db: string): Promise<void> {
  const tables = (await psqlAt({ ...server, db, sql: `SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1` }))
    .split('\n')
    .filter((t) => t !== '');
  const sql = tables.map((t) => `ALTER TABLE ${t} SET (autovacuum_enabled = off, toast.autovacuum_enabled = off);`).join('\n');
  if (sql) await psqlAt({ ...server, db, sql });
  await psqlAt({ ...server, db, sql: 'VACUUM (FREEZE, ANALYZE)' });
  await psqlAt({ ...server, sql: 'CHECKPOINT' });
}

export interface RelationManifest {
  /** Inode of the data directory: the same directory, not a copy put in its place. */
  dataDirInode: number;
  /** Relation files of the application database's user relations, path → sha256. */
  files: Manifest;
}

const FORK_FILE = /^(\d+)(_fsm|_vm|_init)?(\.\d+)?$/;

export async function relationManifest(server: ServerAddress, dataDir: string, db: string): Promise<RelationManifest> {
  await psqlAt({ ...server, sql: 'CHECKPOINT' });
  const paths = (
    await psqlAt({
      ...server,
      db,
      sql: 'SELECT pg_relation_filepath(oid) FROM pg_class WHERE oid >= 16384 AND relfilenode <> 0 ORDER BY 1',
    })
  )
    .split('\n')
    .filter((p) => p !== '');
  if (paths.length === 0) throw new Error(`no user relations in database ${quoteIdent(db)}`);
  const files: Manifest = {};
  for (const path of paths) {
    const dir = join(dataDir, dirname(path));
    const node = basename(path);
    for (const name of await readdir(dir)) {
      const m = FORK_FILE.exec(name);
      if (m && m[1] === node) files[join(dirname(path), name)] = await sha256File(join(dir, name));
    }
  }
  return { dataDirInode: (await stat(dataDir)).ino, files };
}
