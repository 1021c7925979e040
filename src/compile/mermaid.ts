/**
 * Plan values inside mermaid diagrams (RUNBOOK.md). A value is printed only inside a
 * double-quoted node or edge label, and there every character outside a small allow-list
 * becomes a mermaid entity code `#<decimal>;` (mermaid turns it into `&#<decimal>;`,
 * which the browser shows as the character itself). So no value can end the label (`"`),
 * start a directive (`%%{...}%%` is matched anywhere in the text), close the markdown
 * fence (a backtick), add a line, inject HTML (`<`, `&`), or be mistaken for an entity
 * code of its own (`#` and `;` are themselves encoded).
 *
 * mermaid's own placeholders for entity codes are "ﬂ°°", "ﬂ°" and "¶ß", and it decodes
 * them more than once: a value holding them literally would show as a different
 * character. A zero-width space after each "ﬂ" and "¶" keeps them apart (it shows nothing).
 *
 * `:` is encoded too: mermaid strips the `;` of anything matching /style.*:\S*#.*;/ on a
 * line (meant for `style` statements), which would break an entity code that follows a
 * colon in a label mentioning "style". Fixed label text written by the template avoids
 * `:` for the same reason.
 */

/** Characters printed as they are: letters, digits, space and punctuation that is inert
 *  inside a quoted label. Everything else becomes `#<code point>;`. */
const LITERAL = /[A-Za-z0-9 .,/_+=@()'-]/;
/** Characters that start one of mermaid's entity placeholders. */
const PLACEHOLDER_START = /[\uFB02\u00B6]/;
const ZERO_WIDTH_SPACE = '#8203;';

export function mermaidLabel(value: unknown): string {
  let out = '';
  for (const ch of String(value)) {
    out += LITERAL.test(ch) ? ch : `#${ch.codePointAt(0) ?? 0};`;
    if (PLACEHOLDER_START.test(ch)) out += ZERO_WIDTH_SPACE;
  }
  return out;
}
