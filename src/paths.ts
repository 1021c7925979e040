import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, from src/ (tests) or dist/ (the installed CLI) alike. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');
export const SCHEMA_PATH = join(PACKAGE_ROOT, 'schema', 'plan.schema.json');

export function compilerVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
