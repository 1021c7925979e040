#!/usr/bin/env node
// Generates src/plan/types.generated.ts (the raw plan type, PitrPlan) from
// schema/plan.schema.json, the plan's one source of truth.
// Run: npm run gen-types. test/unit/types-in-sync.test.ts fails when the committed
// file differs from what this script would write.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

export const SCHEMA_PATH = fileURLToPath(new URL('../schema/plan.schema.json', import.meta.url));
export const TYPES_PATH = fileURLToPath(new URL('../src/plan/types.generated.ts', import.meta.url));

const BANNER = `/* eslint-disable */
/**
 * GENERATED FILE, do not edit. Generated from schema/plan.schema.json by
 * scripts/gen-types.mjs; after changing the schema run: npm run gen-types
 */`;

/** The text of types.generated.ts for the schema currently on disk. */
export async function generatePlanTypes() {
  // compile() annotates the schema object it is given, so always hand it a fresh copy.
  const schema = JSON.parse(await readFile(SCHEMA_PATH, 'utf8'));
  return compile(schema, 'PitrPlan', {
    bannerComment: BANNER,
    additionalProperties: false,
    unknownAny: true,
    strictIndexSignatures: true,
    // Fixed style so the output does not depend on any prettier config found nearby.
    style: { singleQuote: true, printWidth: 100, trailingComma: 'all', semi: true },
  });
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  await writeFile(TYPES_PATH, await generatePlanTypes());
  console.log(`wrote ${TYPES_PATH}`);
}
