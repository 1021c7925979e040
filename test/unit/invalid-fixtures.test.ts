/**
 * Every plan in test/fixtures/invalid/ must be rejected with exactly the output in
 * its sibling .expected file (what `pitr validate` prints on stderr for it).
 * After an intended change of wording, rewrite them with `npx vitest run -u` and
 * review the diff like code.
 *
 * toMatchFileSnapshot WRITES a missing file and passes (outside CI), so a new fixture
 * without its .expected file could never fail: the file must exist first. To add a
 * fixture, create an empty .expected file, run with -u and review what was written.
 * scripts/test.sh runs vitest with CI=true, so no snapshot is ever written there.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatFindings } from '../../src/plan/format-findings.js';
import { validatePlanText } from '../../src/plan/validate.js';

const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/invalid/', import.meta.url));
const fixtureNames = readdirSync(FIXTURES_DIR)
  .filter((name) => name.endsWith('.yaml'))
  .sort();

describe('invalid plan fixtures', () => {
  it('exist', () => {
    expect(fixtureNames.length).toBeGreaterThanOrEqual(13);
  });

  it('have no .expected file without its plan', () => {
    const orphans = readdirSync(FIXTURES_DIR)
      .filter((name) => name.endsWith('.expected'))
      .filter((name) => !fixtureNames.includes(name.replace(/\.expected$/, '.yaml')));
    expect(orphans).toEqual([]);
  });

  it.each(fixtureNames)('%s is rejected with the expected findings', async (name) => {
    const text = readFileSync(`${FIXTURES_DIR}${name}`, 'utf8');
    // A repository-relative name, so the expected output does not depend on the checkout path.
    const { plan, findings } = validatePlanText(`test/fixtures/invalid/${name}`, text);
    expect(plan).toBeUndefined();
    expect(findings.length).toBeGreaterThan(0);
    const expectedFile = `${FIXTURES_DIR}${name.replace(/\.yaml$/, '.expected')}`;
    expect(existsSync(expectedFile), `${expectedFile} is missing: create it (empty), run with -u, review it`).toBe(true);
    await expect(formatFindings(findings, text)).toMatchFileSnapshot(expectedFile);
  });
});
