/**
 * Loading a plan's YAML: the parsed value plus a way back from a JSON pointer to the
 * line and column it came from, so every later finding can point into the source.
 */
import { LineCounter, isAlias, isCollection, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node, YAMLError } from 'yaml';
import type { Finding } from './findings.js';

export interface SourcePosition {
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
}

export interface LoadedPlanSource {
  /** The plan as plain data; null for an empty file. Meaningless when findings is non-empty. */
  value: unknown;
  /** Position of the value a JSON pointer names, or of its nearest existing ancestor. */
  positionOf(pointer: string): SourcePosition;
  /** Position of the mapping KEY the pointer's last segment names (for "unknown field"). */
  keyPositionOf(pointer: string): SourcePosition;
  /** YAML syntax problems, duplicate keys and unresolved tags. */
  findings: Finding[];
}

/** Aliases in a plan are fine; thousands of them are an attack ("billion laughs"). */
const MAX_ALIAS_EXPANSIONS = 100;

export function loadPlanSource(file: string, text: string): LoadedPlanSource {
  const lineCounter = new LineCounter();
  // YAML 1.2 core schema: `2024-01-15 14:30:00` stays a string (1.1 would make it a
  // Date in the parser's local zone, silently changing the recovery target).
  const document = parseDocument(text, {
    lineCounter,
    schema: 'core',
    prettyErrors: false,
    uniqueKeys: true,
  });
  const positionAt = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  // Warnings (e.g. an unknown !tag, silently dropped) change what the plan means,
  // so they are findings too.
  const problems = [...document.errors, ...document.warnings];
  const findings = problems.map((problem) => yamlProblemToFinding(file, text, problem, positionAt));
  let value: unknown = null;
  if (findings.length === 0) {
    try {
      value = toPlainValue(document);
    } catch (error) {
      // toJS refuses excessive alias expansion; anything else it throws is also about the input.
      const message = error instanceof Error ? error.message : String(error);
      findings.push({ file, ...positionAt(document.contents?.range?.[0] ?? 0), pointer: '', message: `invalid YAML: ${message}` });
    }
  }

  return {
    value,
    positionOf: (pointer) => positionAt(locate(document, pointer).valueOffset),
    keyPositionOf: (pointer) => positionAt(locate(document, pointer).keyOffset),
    findings,
  };
}

function toPlainValue(document: Document): unknown {
  return document.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS }) as unknown;
}

function yamlProblemToFinding(
  file: string,
  text: string,
  problem: YAMLError,
  positionAt: (offset: number) => SourcePosition,
): Finding {
  const [start] = problem.pos;
  return { file, ...positionAt(start), pointer: '', message: describeYamlProblem(problem, text.slice(start)) };
}

/** A mapping key as written at the start of `text`: quoted, or plain up to the colon. */
const KEY_AT_START = /^(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*'|[^:#,{}[\]\n]*[^:#,{}[\]\s])/;

function describeYamlProblem(problem: YAMLError, textFromProblem: string): string {
  if (problem.code === 'DUPLICATE_KEY') {
    const key = KEY_AT_START.exec(textFromProblem)?.[0] ?? '';
    return `duplicate key ${key.startsWith('"') ? key : JSON.stringify(key)}: each key may appear only once in a mapping; remove one of them`;
  }
  if (problem.code === 'MULTIPLE_DOCS') {
    return 'the file holds more than one YAML document (a "---" line); a plan is one document';
  }
  return `invalid YAML: ${problem.message}`;
}

/** Split an RFC 6901 JSON pointer into its unescaped reference tokens. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  // A pointer always starts with "/"; tolerate a missing one rather than mislocate.
  const body = pointer.startsWith('/') ? pointer.slice(1) : pointer;
  return body.split('/').map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Build a JSON pointer from reference tokens, escaping "~" and "/". */
export function pointerFromSegments(segments: readonly (string | number)[]): string {
  return segments.map((segment) => `/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

interface Located {
  valueOffset: number;
  keyOffset: number;
}

/**
 * Walk the document along the pointer. Stops at the deepest node that exists, so a
 * pointer to a missing field lands on the mapping that should hold it.
 */
function locate(document: Document, pointer: string): Located {
  const root = document.contents;
  const rootOffset = root?.range?.[0] ?? 0;
  let located: Located = { valueOffset: rootOffset, keyOffset: rootOffset };
  let current: unknown = root;
  for (const segment of pointerSegments(pointer)) {
    const container = resolveAlias(document, current);
    const step = childOf(container, segment);
    if (!step) break;
    const valueOffset = startOf(step.value) ?? endOfKey(step.key) ?? located.valueOffset;
    located = { valueOffset, keyOffset: startOf(step.key) ?? valueOffset };
    current = step.value;
  }
  return located;
}

function childOf(container: unknown, segment: string): { key: unknown; value: unknown } | null {
  if (isMap(container)) {
    const pair = container.items.find((item) => isPair(item) && keyText(item.key) === segment);
    return pair ? { key: pair.key, value: pair.value } : null;
  }
  if (isSeq(container) && /^(0|[1-9][0-9]*)$/.test(segment)) {
    const item = container.items[Number(segment)];
    return item === undefined ? null : { key: item, value: item };
  }
  return null;
}

/** The key as toJS would stringify it for a plain object. */
function keyText(key: unknown): string | null {
  if (isScalar(key)) return String(key.value);
  if (isCollection(key)) return null;
  return key === null || key === undefined ? null : String(key);
}

function resolveAlias(document: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(document) : node;
}

function startOf(node: unknown): number | undefined {
  return isNodeWithRange(node) ? node.range[0] : undefined;
}

/** For `key:` with nothing after it, point just after the key rather than the next line. */
function endOfKey(key: unknown): number | undefined {
  return isNodeWithRange(key) ? key.range[1] : undefined;
}

function isNodeWithRange(node: unknown): node is Node & { range: [number, number, number] } {
  return (
    typeof node === 'object' &&
    node !== null &&
    'range' in node &&
    Array.isArray((node as { range?: unknown }).range)
  );
}
