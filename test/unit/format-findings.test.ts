import { describe, expect, it } from 'vitest';
import { findingsToJson, formatFinding, formatFindings } from '../../src/plan/format-findings.js';
import type { Finding } from '../../src/plan/findings.js';

const SOURCE = ['version: 1', 'target:', '  time: 2024-01-15 14:30:00', ''].join('\n');

function finding(overrides: Partial<Finding>): Finding {
  return { file: 'plans/x.yaml', line: 3, column: 9, pointer: '/target/time', message: 'bad time', ...overrides };
}

describe('formatFinding', () => {
  it('prints location, message, pointer and a code frame with a caret under the column', () => {
    expect(formatFinding(finding({}), SOURCE)).toBe(
      [
        'plans/x.yaml:3:9: error: bad time (at /target/time)',
        '  3 |   time: 2024-01-15 14:30:00',
        '    |         ^',
        '',
      ].join('\n'),
    );
  });

  it('leaves the pointer out when there is none', () => {
    expect(formatFinding(finding({ pointer: '', line: 1, column: 1 }), SOURCE).split('\n')[0]).toBe(
      'plans/x.yaml:1:1: error: bad time',
    );
  });

  it('widens the gutter for multi-digit line numbers', () => {
    const text = `${'# filler\n'.repeat(11)}time: x\n`;
    expect(formatFinding(finding({ line: 12, column: 7 }), text)).toContain('  12 | time: x\n     |       ^\n');
  });

  it('keeps tabs in the caret padding so the caret lines up', () => {
    const text = 'a:\n\t\tb: 1\n';
    expect(formatFinding(finding({ line: 2, column: 3 }), text)).toContain('  2 | \t\tb: 1\n    | \t\t^\n');
  });

  it('shows an empty line for a position at the end of the file, and strips CR', () => {
    expect(formatFinding(finding({ line: 9, column: 1 }), SOURCE)).toContain('  9 | \n    | ^\n');
    expect(formatFinding(finding({ line: 1, column: 3 }), 'ab\r\n')).toContain('  1 | ab\n    |   ^\n');
  });
});

describe('formatFindings and findingsToJson', () => {
  it('separates findings by a blank line', () => {
    const text = formatFindings([finding({}), finding({ line: 1, column: 10, pointer: '/version' })], SOURCE);
    expect(text.split('\n\n')).toHaveLength(2);
  });

  it('gives the JSON form with a fixed key order', () => {
    const json = findingsToJson([{ message: 'm', pointer: '/p', column: 2, line: 1, file: 'f' }]);
    expect(JSON.stringify(json)).toBe('[{"file":"f","line":1,"column":2,"pointer":"/p","message":"m"}]');
  });
});
