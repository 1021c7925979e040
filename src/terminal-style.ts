/**
 * Colour and symbols for people at a terminal. The commands write plain text (what
 * tests, CI logs and pipes get); src/cli.ts passes it through styleText on its way to a
 * terminal. Styling only adds SGR escapes and symbols in front of lines that already
 * say what they are (`error:`, `warning:`, an inspect status, ...), so removing the
 * escapes and symbols gives back the plain text, and the words never change.
 */

/** The environment variables and stream property that decide; a subset of process.env. */
export interface ColourContext {
  isTTY: boolean | undefined;
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * Colour when the stream is a terminal whose TERM is not dumb, unless NO_COLOR is set to
 * anything non-empty (https://no-color.org). FORCE_COLOR (other than 0 or false) turns it
 * on without a terminal, for tests and CI logs that render escapes; NO_COLOR still wins:
 * it is the user's explicit choice.
 */
export function colourEnabled({ isTTY, env }: ColourContext): boolean {
  if ((env.NO_COLOR ?? '') !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  const term = env.TERM ?? '';
  return isTTY === true && term !== '' && term !== 'dumb';
}

const sgr = (codes: string, text: string): string => `\x1b[${codes}m${text}\x1b[0m`;
const red = (text: string): string => sgr('1;31', text);
const yellow = (text: string): string => sgr('33', text);
const green = (text: string): string => sgr('32', text);
const cyan = (text: string): string => sgr('36', text);
const bold = (text: string): string => sgr('1', text);
const dim = (text: string): string => sgr('2', text);

/** Inspect's statuses: the symbol and a space replace two of the padding spaces, so columns stay aligned. */
const STATUS_STYLE: Record<string, (text: string) => string> = {
  pass: (word) => green(`✔ ${word}`),
  info: (word) => cyan(`▸ ${word}`),
  warn: (word) => yellow(`⚠ ${word}`),
  fail: (word) => red(`✖ ${word}`),
};

/** One line (no newline) in its terminal form; lines nobody needs to notice stay as they are. */
export function styleLine(line: string): string {
  // A code frame (format-findings.ts): "  12 | source" and "     |    ^".
  const frame = /^( +\d* \| )(.*)$/.exec(line);
  if (frame) {
    const [, gutter = '', rest = ''] = frame;
    return /^[ \t]*\^$/.test(rest) ? `${dim(gutter)}${rest.replace('^', red('^'))}` : `${dim(gutter)}${rest}`;
  }
  // FILE[:LINE:COL]: error: MESSAGE, FILE: warning: MESSAGE, and the CLI's own "pitr: ".
  const located = /^(\S.*?): (error|warning): (.*)$/.exec(line);
  if (located) {
    const [, where = '', kind = '', message = ''] = located;
    const label = kind === 'error' ? red(`✖ ${kind}:`) : yellow(`⚠ ${kind}:`);
    return `${bold(`${where}:`)} ${label} ${message}`;
  }
  if (line.startsWith('pitr: ')) return `${red('✖ pitr:')} ${line.slice('pitr: '.length)}`;
  const fix = /^( +)fix: (.*)$/.exec(line);
  if (fix) return `${fix[1]}${cyan('fix:')} ${fix[2]}`;
  if (line.startsWith('stale: ')) return `${yellow('⚠ stale:')} ${line.slice('stale: '.length)}`;
  // Success: validate's "FILE: ok", compile's "FILE → DIR/name/ (N files)", --check's "is up to date".
  if (/^\S.*: ok$/.test(line) || / → .*\/ \(\d+ files\)$/.test(line) || / is up to date$/.test(line)) return `${green('✔')} ${line}`;
  const status = /^(pass|info|warn|fail)( {2,})(.*)$/.exec(line);
  if (status) {
    const [, word = '', padding = '', rest = ''] = status;
    return `${STATUS_STYLE[word]!(word)}${padding.slice(2)}${rest}`;
  }
  if (/^STATUS {2}CHECK/.test(line)) return bold(line);
  return line;
}

/**
 * TEXT as written by a command (one or more lines) in its terminal form. JSON output
 * (--format json) is for machines and passes unchanged.
 */
export function styleText(text: string): string {
  if (/^\s*[[{]/.test(text)) return text;
  return text
    .split('\n')
    .map((line) => (line === '' ? line : styleLine(line)))
    .join('\n');
}
