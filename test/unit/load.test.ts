import { describe, expect, it } from 'vitest';
import { loadPlanSource, pointerFromSegments, pointerSegments } from '../../src/plan/load.js';

const TEXT = [
  'version: 1', //                                  line 1
  'target:', //                                     line 2
  '  time: 2024-01-15 14:30:00', //                 line 3
  'verify:', //                                     line 4
  '  rowCounts: [users, "a/b", ~]', //              line 5
  '  http:', //                                     line 6
  '    - url: http://x', //                         line 7
  '      status: 200', //                           line 8
  'odd:', //                                        line 9
  '  "a/b~c": yes', //                              line 10
  '  empty:', //                                    line 11
  'anchors:', //                                    line 12
  '  base: &base { port: 5432 }', //                line 13
  '  copy: *base', //                               line 14
  '',
].join('\n');

describe('loadPlanSource', () => {
  const source = loadPlanSource('plan.yaml', TEXT);

  it('parses with the YAML 1.2 core schema: unquoted timestamps stay strings', () => {
    expect(source.findings).toEqual([]);
    const value = source.value as { target: { time: unknown } };
    expect(value.target.time).toBe('2024-01-15 14:30:00');
  });

  it('maps pointers to the position of the value', () => {
    expect(source.positionOf('')).toEqual({ line: 1, column: 1 });
    expect(source.positionOf('/version')).toEqual({ line: 1, column: 10 });
    expect(source.positionOf('/target/time')).toEqual({ line: 3, column: 9 });
    expect(source.positionOf('/verify/rowCounts/1')).toEqual({ line: 5, column: 22 });
    expect(source.positionOf('/verify/http/0/status')).toEqual({ line: 8, column: 15 });
  });

  it('unescapes ~1 and ~0 in pointers', () => {
    expect(source.positionOf('/odd/a~1b~0c')).toEqual({ line: 10, column: 12 });
  });

  it('gives key positions for "unknown field" findings', () => {
    expect(source.keyPositionOf('/target/time')).toEqual({ line: 3, column: 3 });
    expect(source.keyPositionOf('/odd/a~1b~0c')).toEqual({ line: 10, column: 3 });
    expect(source.keyPositionOf('/verify/http/0')).toEqual({ line: 7, column: 7 });
  });

  it('falls back to the nearest existing ancestor for a missing child', () => {
    expect(source.positionOf('/target/xid')).toEqual(source.positionOf('/target'));
    expect(source.positionOf('/verify/http/5/url')).toEqual(source.positionOf('/verify/http'));
    expect(source.positionOf('/nothing/here')).toEqual({ line: 1, column: 1 });
  });

  it('points just after the key of an empty value', () => {
    expect(source.positionOf('/odd/empty')).toEqual({ line: 11, column: 9 });
  });

  it('follows aliases into their anchored nodes', () => {
    expect(source.positionOf('/anchors/copy/port')).toEqual({ line: 13, column: 23 });
  });
});

describe('loadPlanSource: YAML problems', () => {
  it('reports every syntax error with its line and column', () => {
    const { findings } = loadPlanSource('bad.yaml', 'a: [1, 2\nb: c: d\n');
    expect(findings.length).toBeGreaterThanOrEqual(2);
    expect(findings.every((f) => f.file === 'bad.yaml' && f.pointer === '')).toBe(true);
    expect(findings.some((f) => f.line === 2 && f.column === 4)).toBe(true);
  });

  it('reports duplicate keys, naming the key', () => {
    const { findings } = loadPlanSource('dup.yaml', 'a: 1\nsource:\n  kind: s3\n  kind: local\n');
    expect(findings).toEqual([
      expect.objectContaining({ line: 4, column: 3, message: expect.stringContaining('duplicate key "kind"') }),
    ]);
  });

  it('reports a second document', () => {
    const { findings } = loadPlanSource('two.yaml', 'a: 1\n---\nb: 2\n');
    expect(findings[0]?.message).toContain('more than one YAML document');
  });

  it('reports unknown tags instead of silently dropping them', () => {
    const { findings } = loadPlanSource('tag.yaml', 'a: !secret value\n');
    expect(findings[0]?.message).toContain('Unresolved tag');
  });

  it('refuses alias bombs', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    const { findings } = loadPlanSource('bomb.yaml', `${lines.join('\n')}\n`);
    expect(findings[0]?.message).toContain('invalid YAML');
  });
});

describe('JSON pointers', () => {
  it('round-trip through segments', () => {
    const segments = ['a/b', 'c~d', 0, ''];
    const pointer = pointerFromSegments(segments);
    expect(pointer).toBe('/a~1b/c~0d/0/');
    expect(pointerSegments(pointer)).toEqual(['a/b', 'c~d', '0', '']);
    expect(pointerSegments('')).toEqual([]);
  });
});
