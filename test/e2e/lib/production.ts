// "Production untouched", proved by checksums: one fingerprint of everything a drill (or a
// run that is refused) must not change, taken before and compared after.
//
// - the application database's relation files (every fork and segment, after CHECKPOINT;
//   see relationManifest in manifest.ts, which also records the data directory's inode);
// - the configuration files in the data directory (postgresql.conf, postgresql.auto.conf,
//   pg_hba.conf, pg_ident.conf: whichever exist, and which exist);
// - every file under extra configuration directories, e.g. Debian's
//   /etc/postgresql/<version>/<cluster>/ (checksumTree).
//
// Reading the fingerprint writes nothing but a CHECKPOINT, so it can be taken while the
// server runs; call quiesce() once after loading the data (see manifest.ts).

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataDirManifest, relationManifest, type Manifest, type RelationManifest } from './manifest.js';
import type { ServerAddress } from './postgres.js';

/** The configuration files PostgreSQL reads from a data directory (when they are there). */
export const DATA_DIR_CONFIG_FILES = ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf'];

/** Every file, symlink and directory under each of DIRS (sha256 / target / 'dir'), keyed by DIR/relative path. */
export async function checksumTree(dirs: string[]): Promise<Manifest> {
  const manifest: Manifest = {};
  for (const dir of dirs) {
    if (!existsSync(dir)) throw new Error(`checksumTree: ${dir} does not exist`);
    for (const [rel, sum] of Object.entries(await dataDirManifest(dir))) manifest[join(dir, rel)] = sum;
  }
  return manifest;
}

export interface ProductionFingerprint {
  relations: RelationManifest;
  /** DATA_DIR/<config file> → sha256, for the config files that exist. */
  dataDirConfig: Manifest;
  /** checksumTree(configDirs). */
  configDirs: Manifest;
}

export interface ProductionOptions {
  server: ServerAddress;
  dataDir: string;
  /** The application database (its relation files are checksummed). */
  db: string;
  /** Configuration directories outside the data directory, e.g. /etc/postgresql/15/main. */
  configDirs?: string[];
}

export async function productionFingerprint({ server, dataDir, db, configDirs = [] }: ProductionOptions): Promise<ProductionFingerprint> {
  const relations = await relationManifest(server, dataDir, db);
  const dataDirConfig: Manifest = {};
  for (const name of DATA_DIR_CONFIG_FILES) {
    const path = join(dataDir, name);
    if (existsSync(path)) dataDirConfig[name] = createHash('sha256').update(await readFile(path)).digest('hex');
  }
  return { relations, dataDirConfig, configDirs: await checksumTree(configDirs) };
}
