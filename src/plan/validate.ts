/**
 * Plan text in, normalized plan or findings out. Pure: the caller reads the file.
 *
 * Order of work is fixed: YAML syntax (stop on errors, the document is not what the
 * author meant) → JSON schema (plus the secret scan, which needs no schema) → semantic
 * rules (only on schema-valid plans, so they can trust field types) → normalize.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Finding } from './findings.js';
import { loadPlanSource } from './load.js';
import type { LoadedPlanSource } from './load.js';
import { normalizePlan } from './normalize.js';
import type { NormalizedPlan } from './normalized.js';
import { describeSchemaErrors } from './schema-errors.js';
import { findInlineSecrets } from './secrets.js';
import { checkSemanticRules } from './semantic-rules.js';
import type { PlanIssue } from './semantic-rules.js';
import type { PitrPlan } from './types.generated.js';

export interface PlanValidation {
  /** Present exactly when findings is empty. */
  plan?: NormalizedPlan;
  /** Every problem found at the first stage that found any, in source order. */
  findings: Finding[];
}

/** src/plan/ and dist/plan/ are both two levels below the package root. */
const SCHEMA_URL = new URL('../../schema/plan.schema.json', import.meta.url);

const matchesPlanSchema = compilePlanSchema();

function compilePlanSchema() {
  // ajv-formats is CommonJS; under NodeNext its default import is the module object.
  const addFormats = addFormatsModule.default;
  // strict: a typo in the schema itself (an unknown keyword) fails loudly here.
  // verbose: errors carry their schema and data, which the re-wording needs.
  const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
  addFormats(ajv);
  const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as object;
  return ajv.compile<PitrPlan>(schema);
}

export function validatePlanText(file: string, text: string): PlanValidation {
  const source = loadPlanSource(file, text);
  if (source.findings.length > 0) return { findings: sortBySourcePosition(source.findings) };
  const place = (issues: PlanIssue[]): Finding[] => placeIssues(file, source, issues);

  const shapeFindings = place(checkShape(source.value));
  if (shapeFindings.length > 0) return { findings: shapeFindings };

  const plan = source.value as PitrPlan;
  const ruleFindings = place(checkSemanticRules(plan));
  if (ruleFindings.length > 0) return { findings: ruleFindings };

  return { plan: normalizePlan(plan), findings: [] };
}

/** Schema errors and inline secrets; a secret's own finding replaces schema noise about the same value. */
function checkShape(value: unknown): PlanIssue[] {
  const secrets = findInlineSecrets(value);
  const secretPointers = new Set(secrets.map((issue) => issue.pointer));
  const schemaIssues = matchesPlanSchema(value) ? [] : describeSchemaErrors(matchesPlanSchema.errors ?? []);
  return [...schemaIssues.filter((issue) => !secretPointers.has(issue.pointer)), ...secrets];
}

function placeIssues(file: string, source: LoadedPlanSource, issues: PlanIssue[]): Finding[] {
  const findings = issues.map((issue): Finding => {
    const position = issue.atKey ? source.keyPositionOf(issue.pointer) : source.positionOf(issue.pointer);
    return { file, line: position.line, column: position.column, pointer: issue.pointer, message: issue.message };
  });
  return sortBySourcePosition(withoutDuplicates(findings));
}

function withoutDuplicates(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((finding) => {
    const key = JSON.stringify([finding.line, finding.column, finding.pointer, finding.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Stable: findings at the same place keep the order their checks ran in. */
function sortBySourcePosition(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.line - b.line || a.column - b.column);
}
