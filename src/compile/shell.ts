/**
 * The one way a value becomes a shell word. Single quotes make every character literal
 * in bash and POSIX sh; an embedded single quote ends the quoted run, adds an escaped
 * quote, and starts a new run: ' → '\''. Nothing else needs care, not even newlines.
 */
export function shellQuote(value: string | number): string {
  const text = String(value);
  if (text.includes('\0')) {
    // A NUL cannot be passed through argv or a variable; refuse rather than truncate.
    throw new Error('a value containing a NUL byte cannot reach a shell script');
  }
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** A string literal for postgresql.conf: single quotes, an embedded quote doubled. */
export function confQuote(value: string): string {
  if (/[\0\n\r]/.test(value)) {
    throw new Error('a postgresql.conf value cannot contain NUL or line breaks');
  }
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** A bash variable name: checked so templates cannot print arbitrary text as a name. */
export function shellName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new Error(`not a shell variable name: ${JSON.stringify(name)}`);
  }
  return name;
}

/** Text safe inside a one-line "# ..." comment: control characters become spaces. */
export function shellComment(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ');
}
