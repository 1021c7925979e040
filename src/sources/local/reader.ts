/**
 * A local (or mounted, e.g. NFS) archive directory: source.path. Each directory is
 * read once per reader and kept sorted, so narrow listings of a large WAL directory
 * cost one readdir, and sizes are looked up only for the keys returned.
 */
import { createHash } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import { copyFile, open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveLocation } from '../../plan/normalized.js';
import { ArchiveAccessError, beforeStart, compareKeys, pastStop, type ArchiveObject, type ArchiveReader, type Listing, type ListOptions } from '../archive-reader.js';

/** The reader for a plan's local source (open.ts's row for `local`). */
export function openLocalArchive(source: ArchiveLocation): ArchiveReader {
  if (!source.path) throw new Error('source.path is required for a local source');
  return createLocalReader(source.path);
}

/**
 * A missing file or directory is an answer (no such object); anything else (permissions,
 * I/O) is the archive failing, reported with the path.
 */
function throwUnlessMissing(error: unknown, path: string): void {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
  throw new ArchiveAccessError(`cannot read ${path}: ${(error as Error).message}`);
}

export function createLocalReader(root: string): ArchiveReader {
  const directories = new Map<string, Dirent[]>();
  const counts: Record<string, number> = {};
  const count = (operation: string) => {
    counts[operation] = (counts[operation] ?? 0) + 1;
  };
  const pathOf = (key: string) => join(root, ...key.split('/'));

  async function entriesOf(directory: string): Promise<Dirent[]> {
    const cached = directories.get(directory);
    if (cached) return cached;
    count('readdir');
    let entries: Dirent[];
    try {
      entries = await readdir(pathOf(directory), { withFileTypes: true });
    } catch (error) {
      throwUnlessMissing(error, join(root, directory));
      entries = [];
    }
    entries.sort((a, b) => compareKeys(a.name, b.name));
    directories.set(directory, entries);
    return entries;
  }

  async function objectOf(key: string): Promise<ArchiveObject | null> {
    try {
      const info = await stat(pathOf(key));
      return info.isFile() ? { key, size: info.size, etag: null } : null;
    } catch (error) {
      throwUnlessMissing(error, pathOf(key));
      return null;
    }
  }

  return {
    kind: 'local',
    describe: (key) => pathOf(key),

    async list(options: ListOptions): Promise<Listing> {
      const { prefix, limit } = options;
      const slash = prefix.lastIndexOf('/');
      const directory = prefix.slice(0, slash + 1);
      const namePrefix = prefix.slice(slash + 1);
      const keys: string[] = [];
      const prefixes: string[] = [];
      for (const entry of await entriesOf(directory.replace(/\/$/, ''))) {
        if (!entry.name.startsWith(namePrefix)) continue;
        const key = `${directory}${entry.name}`;
        if (beforeStart(key, options)) continue;
        if (pastStop(key, options)) break;
        if (entry.isDirectory()) prefixes.push(`${key}/`);
        else if (entry.isFile()) keys.push(key);
        if (limit !== undefined && keys.length >= limit) break;
      }
      const objects: ArchiveObject[] = [];
      for (const key of keys) {
        const object = await objectOf(key);
        if (object) objects.push(object);
      }
      return { objects, prefixes };
    },

    async read(key) {
      const object = await objectOf(key);
      if (!object) return null;
      count('read');
      return { object, body: await readFile(pathOf(key)) };
    },

    async readHead(key, bytes) {
      let handle;
      try {
        handle = await open(pathOf(key), 'r');
      } catch (error) {
        throwUnlessMissing(error, pathOf(key));
        return null;
      }
      try {
        count('read');
        const buffer = Buffer.alloc(bytes);
        const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },

    async download(key, destination) {
      if (!(await objectOf(key))) return false;
      count('read');
      await copyFile(pathOf(key), destination);
      return true;
    },

    async fingerprint(object) {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(pathOf(object.key))) hash.update(chunk as Buffer);
      return { sha256: hash.digest('hex') };
    },

    requestCounts: () => ({ ...counts }),
    close: () => directories.clear(),
  };
}
