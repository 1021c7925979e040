/**
 * Path comparisons for plan directories. Plans are compiled for a Linux host, so
 * POSIX rules apply whatever machine runs the compiler.
 */
import { posix } from 'node:path';

/** `/a/b/../c//` → `/a/c`: resolves "." and "..", drops repeated and trailing slashes. */
export function canonicalPath(path: string): string {
  const normalized = posix.normalize(path);
  return normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
}

/** Whether `inner` is `outer` itself or somewhere below it (on canonical paths). */
export function isSameOrInside(inner: string, outer: string): boolean {
  const innerPath = canonicalPath(inner);
  const outerPath = canonicalPath(outer);
  if (innerPath === outerPath) return true;
  const outerWithSlash = outerPath.endsWith('/') ? outerPath : `${outerPath}/`;
  return innerPath.startsWith(outerWithSlash);
}
