/**
 * How findings are shown: compiler-style lines with a code frame for people, and a
 * plain array for machines (`--format json`).
 */
import type { Finding } from './findings.js';

/** The JSON shape of one finding; field order is fixed so output is stable. */
export interface FindingJson {
  file: string;
  line: number;
  column: number;
  pointer: string;
  message: string;
}

/**
 * `FILE:LINE:COL: error: MESSAGE (at /pointer)` and the offending source line with a
 * caret under the column. The pointer is left out when there is none (YAML syntax
 * errors). Ends with a newline.
 */
export function formatFinding(finding: Finding, sourceText: string): string {
  const location = finding.pointer === '' ? '' : ` (at ${finding.pointer})`;
  const header = `${finding.file}:${finding.line}:${finding.column}: error: ${finding.message}${location}`;
  return `${header}\n${codeFrame(sourceText, finding.line, finding.column)}`;
}

/** Every finding of one file, separated by blank lines. */
export function formatFindings(findings: readonly Finding[], sourceText: string): string {
  return findings.map((finding) => formatFinding(finding, sourceText)).join('\n');
}

export function findingsToJson(findings: readonly Finding[]): FindingJson[] {
  return findings.map(({ file, line, column, pointer, message }) => ({ file, line, column, pointer, message }));
}

/**
 * ```
 *   12 |   time: 2024-01-15 14:30:00
 *      |         ^
 * ```
 */
function codeFrame(sourceText: string, line: number, column: number): string {
  const lines = sourceText.split('\n');
  // A position just past the last line (end of file) shows as an empty line.
  const sourceLine = (lines[line - 1] ?? '').replace(/\r$/, '');
  const gutterWidth = String(line).length;
  const lineNumber = String(line).padStart(gutterWidth);
  const blankGutter = ' '.repeat(gutterWidth);
  return `  ${lineNumber} | ${sourceLine}\n  ${blankGutter} | ${caretPadding(sourceLine, column)}^\n`;
}

/** Spaces up to the column, but keep tabs as tabs so the caret lines up under them. */
function caretPadding(sourceLine: string, column: number): string {
  const before = sourceLine.slice(0, Math.max(0, column - 1));
  return before.replace(/[^\t]/g, ' ').padEnd(column - 1, ' ');
}
