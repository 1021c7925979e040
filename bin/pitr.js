#!/usr/bin/env node
// The installed entry point: the compiled CLI in dist/ (built by `npm install` via prepare).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('pitr: dist/ is missing; run `npm install` (or `npm run build`) in the pitr-plan checkout\n');
  process.exit(2);
}
await import(cli);
