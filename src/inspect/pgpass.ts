/**
 * The password libpq would use: PGPASSWORD, else the first matching line of the
 * password file (PGPASSFILE, default ~/.pgpass), which libpq ignores when group or
 * others may read it. Lines are hostname:port:database:username:password; `*`
 * matches anything; `\` escapes `:` and `\`. For a unix-socket connection to the
 * default socket directory libpq matches the line's host against "localhost".
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface PasswordLookup {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** libpq's DEFAULT_PGSOCKET_DIR on Debian and most Linux packages. */
const DEFAULT_SOCKET_DIRS = ['/var/run/postgresql', '/run/postgresql', '/tmp'];

function splitFields(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) {
      current += line[++i];
    } else if (ch === ':' && fields.length < 4) {
      fields.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  fields.push(current);
  return fields;
}

/** The password for `lookup` from the text of a password file, or undefined. */
export function passwordFromPgpass(text: string, lookup: PasswordLookup): string | undefined {
  const host = lookup.host.startsWith('/') && DEFAULT_SOCKET_DIRS.includes(lookup.host.replace(/\/+$/, '')) ? 'localhost' : lookup.host;
  const wanted = [host, String(lookup.port), lookup.database, lookup.user];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const fields = splitFields(line);
    if (fields.length < 5) continue;
    if (wanted.every((value, i) => fields[i] === '*' || fields[i] === value)) return fields[4];
  }
  return undefined;
}

export interface PasswordSource {
  password: string | undefined;
  /** Why the password file was not used (unsafe permissions), for a warning. */
  note: string | null;
}

/** PGPASSWORD, else the password file; never throws. */
export function findPassword(lookup: PasswordLookup, env: NodeJS.ProcessEnv = process.env): PasswordSource {
  if (env.PGPASSWORD !== undefined) return { password: env.PGPASSWORD, note: null };
  const file = env.PGPASSFILE ?? join(env.HOME ?? homedir(), '.pgpass');
  try {
    const info = statSync(file);
    if (!info.isFile()) return { password: undefined, note: null };
    if ((info.mode & 0o077) !== 0) {
      return { password: undefined, note: `password file ${file} has group or world access; libpq ignores it too (chmod 0600 ${file})` };
    }
    return { password: passwordFromPgpass(readFileSync(file, 'utf8'), lookup), note: null };
  } catch {
    return { password: undefined, note: null };
  }
}
