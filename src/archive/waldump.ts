/**
 * Reading `pg_waldump --rmgr=Transaction` output (run with TZ=UTC), as
 * latest_xact_time_us in lib/archive.sh does:
 *   rmgr: Transaction len (rec/tot): 34/34, tx: 725, lsn: 0/04000028, prev 0/030000C0, desc: COMMIT 2026-11-24 06:31:50.322353 UTC
 */
const TRANSACTION_END = /desc: (?:COMMIT|ABORT) (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))? UTC/;

/** Microseconds since 1970 of the newest COMMIT or ABORT record, or null when there is none. */
export function latestTransactionMicros(waldumpOutput: string): number | null {
  let latest: number | null = null;
  for (const line of waldumpOutput.split('\n')) {
    const match = TRANSACTION_END.exec(line);
    if (!match) continue;
    const micros = (Date.parse(`${match[1]}T${match[2]}Z`) / 1000) * 1_000_000 + Number((match[3] ?? '').padEnd(6, '0'));
    if (latest === null || micros > latest) latest = micros;
  }
  return latest;
}
