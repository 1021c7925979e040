#!/usr/bin/env node
// Build step after tsc (npm run build, and so prepare): the work `pitr` would otherwise
// repeat at every start-up, done once.
//   dist/compile/templates.precompiled.cjs  templates/ precompiled by Handlebars
//   dist/plan/plan-schema.validate.cjs      ajv's standalone check of schema/plan.schema.json
// Each records a fingerprint of its sources; dist/ uses it only while the sources on disk
// still match, and compiles them itself otherwise (prepareTemplates, prepareSchemaCheck).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadTemplates, precompiledTemplatesModule, PRECOMPILED_TEMPLATES_PATH } from '../dist/compile/render.js';
import { STANDALONE_SCHEMA_CHECK_PATH, standaloneSchemaCheckModule } from '../dist/plan/validate.js';

const TEMPLATES_DIR = fileURLToPath(new URL('../templates', import.meta.url));
const SCHEMA_PATH = fileURLToPath(new URL('../schema/plan.schema.json', import.meta.url));

/** Write then rename: a pitr started meanwhile reads the old module or the new one, never half of one. */
function writeAtomically(path, text) {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

writeAtomically(PRECOMPILED_TEMPLATES_PATH, precompiledTemplatesModule(loadTemplates(TEMPLATES_DIR)));
writeAtomically(STANDALONE_SCHEMA_CHECK_PATH, standaloneSchemaCheckModule(readFileSync(SCHEMA_PATH, 'utf8')));
