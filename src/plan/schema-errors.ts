/**
 * ajv's errors re-worded for the person fixing the plan: which field, what it must
 * be, what it is now, and (for typos) what was probably meant. Requires ajv's
 * `verbose: true`, which gives each error its schema and data.
 */
import type { ErrorObject } from 'ajv';
import { pointerSegments } from './load.js';
import type { PlanIssue } from './semantic-rules.js';

interface FieldSchema {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  properties?: Record<string, unknown>;
  anyOf?: FieldSchema[];
}

/** Plain words for the schema's patterns; anything not listed shows the pattern itself. */
export const PATTERN_WORDS: Record<string, string> = {
  '^/': 'an absolute path (starting with /)',
  '^(([0-9]|[1-9][0-9])(\\.[0-9]{1,2})?%|[1-9][0-9]{0,5}(MiB|GiB|TiB))$':
    'a share of the filesystem below 100% (like 5% or 2.5%) or a size in MiB, GiB or TiB (like 2GiB)',
  '^https?://': 'an http:// or https:// URL',
  '^[A-Za-z_][A-Za-z0-9_]*$': 'an environment variable name (letters, digits and _, not starting with a digit)',
  '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$':
    'lowercase letters, digits and dashes, starting and ending with a letter or digit, at most 63 characters',
  '^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$': 'a WAL location (pg_lsn) like 0/3000060',
  '^[0-9]+/[A-Za-z0-9_.-]+$': 'VERSION/NAME, like 15/main',
  '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$': 'an S3 bucket name (3 to 63 lowercase letters, digits, dots and dashes)',
  '^[a-z_][a-z0-9_-]*$': 'a user name (lowercase letters, digits, _ and -)',
  '^[A-Za-z0-9._:-]+$': 'auto or a backup label (letters, digits, ".", "_", ":" and "-")',
  '^[A-Za-z0-9_./-]+( [A-Za-z0-9_./-]+)*$': 'a command and its arguments separated by single spaces',
  '^[a-z0-9-]+$': 'a region name like eu-central-1 (lowercase letters, digits and dashes)',
  '^[A-Za-z0-9][A-Za-z0-9_.-]*$': 'a compose service name (letters, digits, ".", "_" and "-")',
  '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$':
    'a Kubernetes namespace (lowercase letters, digits and dashes, starting and ending with a letter or digit)',
  '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$':
    'a Kubernetes name (lowercase letters, digits, dots and dashes, starting and ending with a letter or digit)',
};

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping (key: value lines)',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
};

const ROOT_FIELDS_HINT = 'version, name, target, postgres, source, recovery';

export function describeSchemaErrors(errors: readonly ErrorObject[]): PlanIssue[] {
  const handledByAnyOf = errors
    .filter((error) => error.keyword === 'anyOf')
    .map((error) => `${error.schemaPath}/`);
  return errors
    .filter((error) => !handledByAnyOf.some((prefix) => error.schemaPath.startsWith(prefix)))
    .map(describeSchemaError);
}

function describeSchemaError(error: ErrorObject): PlanIssue {
  const pointer = error.instancePath;
  const schema = (error.parentSchema ?? {}) as FieldSchema;
  const field = fieldLabel(pointer);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return unknownField(pointer, String(params.additionalProperty), schema);
    case 'required':
      return missingField(pointer, String(params.missingProperty));
    case 'type':
      return { pointer, message: wrongType(field, schema, error.data, pointer) };
    case 'minimum':
    case 'maximum':
      return { pointer, message: `${field} must be ${numberRule(schema)}${got(error.data)}` };
    case 'pattern':
    case 'format':
    case 'minLength':
    case 'maxLength':
      return { pointer, message: `${field} must be ${stringRule(schema)}${got(error.data)}` };
    case 'enum':
    case 'const':
    case 'anyOf':
      return { pointer, message: `${field} must be ${choices(schema)}${got(error.data)}` };
    case 'minItems':
      return { pointer, message: `${field} must list at least ${plural(schema.minItems ?? 1, 'item')}` };
    case 'uniqueItems':
      return duplicateItems(pointer, field, params, error.data);
    default:
      return { pointer, message: `${field} ${error.message ?? 'is invalid'}` };
  }
}

function unknownField(parentPointer: string, name: string, schema: FieldSchema): PlanIssue {
  // $schema is an editor hint, allowed but not worth suggesting.
  const allowed = Object.keys(schema.properties ?? {}).filter((key) => key !== '$schema');
  const guess = closestName(name, allowed);
  const hint = guess ? ` (did you mean "${guess}"?)` : '';
  return {
    pointer: `${parentPointer}/${escapeSegment(name)}`,
    atKey: true,
    message: `unknown field "${name}" under ${parentPointer || '/'}${hint}; allowed: ${allowed.join(', ')}`,
  };
}

function missingField(parentPointer: string, name: string): PlanIssue {
  const where = parentPointer === '' ? 'at the top level' : `in ${parentPointer}`;
  return { pointer: parentPointer, atKey: true, message: `missing required field "${name}" ${where}` };
}

function wrongType(field: string, schema: FieldSchema, data: unknown, pointer: string): string {
  if (pointer === '') {
    return `a plan must be a mapping of fields (${ROOT_FIELDS_HINT}, ...)${got(data)}`;
  }
  const expected = schema.type === 'integer' || schema.type === 'number' ? numberRule(schema) : typeWords(schema.type);
  return `${field} must be ${expected}${got(data)}${quotingHint(schema.type, data)}`;
}

/** YAML turns `expect: 0` into a number and `port: "5432"` into a string; say so. */
function quotingHint(expectedType: string | undefined, data: unknown): string {
  if (expectedType === 'integer' && typeof data === 'string' && /^-?\d+$/.test(data.trim())) {
    return '; remove the quotes';
  }
  if (expectedType === 'string' && (typeof data === 'number' || typeof data === 'boolean')) {
    return `; put it in quotes: "${String(data)}"`;
  }
  return '';
}

function numberRule(schema: FieldSchema): string {
  const kind = schema.type === 'number' ? 'a number' : 'an integer';
  const { minimum, maximum } = schema;
  if (minimum !== undefined && maximum !== undefined) return `${kind} between ${minimum} and ${maximum}`;
  if (minimum !== undefined) return `${kind} of at least ${minimum}`;
  if (maximum !== undefined) return `${kind} of at most ${maximum}`;
  return kind;
}

/** All of a string field's rules in one sentence, so its pattern and length errors read as one. */
function stringRule(schema: FieldSchema): string {
  const parts: string[] = [];
  if (schema.pattern !== undefined) parts.push(PATTERN_WORDS[schema.pattern] ?? `a string matching ${schema.pattern}`);
  // Our URL pattern's words already say what the uri format check would say.
  if (schema.format === 'uri' && schema.pattern !== '^https?://') parts.push('a valid URL');
  const length = lengthRule(schema);
  if (length) parts.push(length);
  if (parts.length === 0) parts.push('a valid string');
  return parts.join(', ');
}

function lengthRule(schema: FieldSchema): string | null {
  const { minLength, maxLength } = schema;
  // A pattern like "^/" plus minLength 2 means "not the root directory".
  if (schema.pattern === '^/' && minLength === 2) return 'not / itself';
  if (minLength !== undefined && maxLength !== undefined) {
    return minLength === 1 ? `non-empty and at most ${maxLength} characters` : `${minLength} to ${maxLength} characters`;
  }
  if (minLength !== undefined) return minLength === 1 ? 'non-empty' : `at least ${minLength} characters`;
  if (maxLength !== undefined) return `at most ${maxLength} characters`;
  return null;
}

function choices(schema: FieldSchema): string {
  if (schema.anyOf) return joinAlternatives(schema.anyOf.map(choices));
  if (schema.enum) return `one of ${schema.enum.map(String).join(', ')}`;
  if ('const' in schema) return JSON.stringify(schema.const);
  if (schema.type === 'integer' || schema.type === 'number') return numberRule(schema);
  return typeWords(schema.type);
}

function duplicateItems(
  pointer: string,
  field: string,
  params: Record<string, unknown>,
  data: unknown,
): PlanIssue {
  const [first, second] = [Number(params.j), Number(params.i)].sort((a, b) => a - b);
  const item = Array.isArray(data) && first !== undefined ? data[first] : undefined;
  return {
    pointer: `${pointer}/${second}`,
    message: `${field} lists ${JSON.stringify(item)} twice (items ${first} and ${second}); list each only once`,
  };
}

/** `"port"`, `"services[2]"`, or "the plan" for the root. */
function fieldLabel(pointer: string): string {
  const segments = pointerSegments(pointer);
  const last = segments.at(-1);
  if (last === undefined) return 'the plan';
  if (/^\d+$/.test(last)) {
    const parent = segments.at(-2);
    return parent === undefined ? `item ${last}` : `"${parent}[${last}]"`;
  }
  return `"${last}"`;
}

function typeWords(type: string | undefined): string {
  return type === undefined ? 'a valid value' : (TYPE_WORDS[type] ?? type);
}

/** What the plan has now; strings are cut short so a long value cannot flood the output. */
function got(data: unknown): string {
  return `, got ${describeValue(data)}`;
}

function describeValue(data: unknown): string {
  if (data === null || data === undefined) return 'nothing';
  if (typeof data === 'string') {
    const shown = data.length > 60 ? `${data.slice(0, 57)}...` : data;
    return `the string ${JSON.stringify(shown)}`;
  }
  if (typeof data === 'number') return `the number ${data}`;
  if (typeof data === 'boolean') return String(data);
  if (Array.isArray(data)) return 'a list';
  return 'a mapping';
}

function joinAlternatives(options: string[]): string {
  if (options.length <= 1) return options.join('');
  return `${options.slice(0, -1).join(', ')} or ${options.at(-1)}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function escapeSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The allowed name a typo most likely meant, if any is close enough to be a typo. */
export function closestName(name: string, candidates: readonly string[]): string | null {
  let best: { candidate: string; distance: number } | null = null;
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (best === null || distance < best.distance) best = { candidate, distance };
  }
  if (best === null) return null;
  const tolerance = Math.max(1, Math.min(3, Math.floor(best.candidate.length / 3)));
  return best.distance <= tolerance ? best.candidate : null;
}

/** Levenshtein distance with adjacent transpositions counted as one edit ("tagret"). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const table: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => table[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const substitution = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      }
      const row = table[i];
      if (row) row[j] = distance;
    }
  }
  return at(a.length, b.length);
}
