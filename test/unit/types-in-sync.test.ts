/**
 * src/plan/types.generated.ts must be exactly what scripts/gen-types.mjs makes of the
 * schema on disk, so the schema stays the one source of truth for the plan's shape.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TYPES_PATH, generatePlanTypes } from '../../scripts/gen-types.mjs';

describe('generated plan types', () => {
  it('match schema/plan.schema.json', async () => {
    const generated = await generatePlanTypes();
    const committed = readFileSync(TYPES_PATH, 'utf8');
    expect(
      committed === generated,
      'src/plan/types.generated.ts is out of date with schema/plan.schema.json: run npm run gen-types',
    ).toBe(true);
  });
});
