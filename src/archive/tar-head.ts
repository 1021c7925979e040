/**
 * The first member of a tar archive, from its first bytes. pg_basebackup writes
 * backup_label as the first member of base.tar, so a few kilobytes at the start of a
 * base backup tarball tell its START WAL LOCATION without downloading the backup.
 */
export interface TarMember {
  name: string;
  content: Buffer;
}

/** The first member, or null if `head` does not hold a whole ustar header and body. */
export function firstTarMember(head: Buffer): TarMember | null {
  if (head.length < 512) return null;
  const field = (start: number, length: number) => {
    const raw = head.subarray(start, start + length);
    const nul = raw.indexOf(0);
    return raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
  };
  if (!field(257, 6).startsWith('ustar')) return null;
  const prefix = field(345, 155);
  const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
  const size = Number.parseInt(field(124, 12).trim() || 'x', 8);
  if (!Number.isFinite(size) || head.length < 512 + size) return null;
  return { name: name.replace(/^\.\//, ''), content: head.subarray(512, 512 + size) };
}
