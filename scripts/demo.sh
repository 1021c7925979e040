#!/usr/bin/env bash
# npm run demo: a complete point-in-time recovery on this machine, in about a minute.
#
# In a new temporary directory: starts a throwaway PostgreSQL 15 that archives its WAL
# into a local archive (base/ and wal/), creates an "orders" table, takes a base backup
# (pg_basebackup -l <id>, stored as base/<id>.tar.gz), adds good orders, records a
# target time written with an explicit offset, then simulates an incident (deletes and
# corrupting updates). It writes a plan for that, compiles it with `pitr compile`, runs
# the generated drill.sh (rehearsal) and run.sh --yes (the recovery), and prints the
# row counts before, at the target and after. Everything it started is stopped and the
# directory removed on exit, also on failure or Ctrl-C.
#
# Needs: root, PostgreSQL 15 server programs (Debian: postgresql-15), node with this
# checkout built (npm ci). shellcheck is used when installed (the compile gate).
# PITR_DEMO_KEEP=1 keeps the directory (servers are still stopped) for a look.
set -Eeuo pipefail
umask 022

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_DIR
readonly PG_BIN=/usr/lib/postgresql/15/bin
readonly PG_OS_USER=postgres
readonly DB=shop
readonly PLAN_NAME=demo
readonly BACKUP_ID=demo-base-1

DEMO_DIR=""
STARTED_AT="${SECONDS}"

if [[ -t 2 && -z "${NO_COLOR:-}" ]]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
readonly BOLD PLAIN
say() { printf '\n%s==> %s%s\n' "${BOLD}" "$*" "${PLAIN}" >&2; }
die() {
  printf 'demo: %s\n' "$*" >&2
  exit 1
}

as_pg() { runuser -u "${PG_OS_USER}" -- "$@"; }

# psql_at SOCKET_DIR PORT SQL: one value per line, no headers.
psql_at() {
  as_pg "${PG_BIN}/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$1" -p "$2" -U postgres -d "${DB}" -c "$3"
}

# free_port [NOT]: a TCP port nothing listens on, other than NOT (the servers are
# socket-only, but preflight checks TCP).
free_port() {
  local port
  for ((port = 20000 + RANDOM % 30000; port < 65000; port += 7)); do
    if [[ "${port}" != "${1:-}" ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
      printf '%s\n' "${port}"
      return 0
    fi
  done
  die "no free port"
}

# wait_for SECONDS DESCRIPTION COMMAND...
wait_for() {
  local seconds="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out waiting for ${what}"
    sleep 0.2
  done
}

# Stops every server whose data directory is under DEMO_DIR (production, the recovered
# one, a side instance a failed run left), by the pid it recorded, then removes the dir.
cleanup() {
  local status=$? pid_file data_dir pid
  trap - EXIT INT TERM
  if [[ -n "${DEMO_DIR}" && -d "${DEMO_DIR}" ]]; then
    while IFS= read -r pid_file; do
      data_dir="$(dirname "${pid_file}")"
      pid="$(head -n 1 "${pid_file}" 2>/dev/null || true)"
      as_pg "${PG_BIN}/pg_ctl" -D "${data_dir}" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
      if [[ "${pid}" =~ ^[0-9]+$ ]] && kill -0 "${pid}" 2>/dev/null; then kill -KILL "${pid}" 2>/dev/null || true; fi
    done < <(find "${DEMO_DIR}" -name postmaster.pid -type f 2>/dev/null)
    if [[ -n "${PITR_DEMO_KEEP:-}" ]]; then
      printf 'demo: kept %s (servers stopped)\n' "${DEMO_DIR}" >&2
    else
      rm -rf --one-file-system -- "${DEMO_DIR}"
    fi
  fi
  if ((status != 0)); then printf 'demo: FAILED (exit %s); everything it started was stopped and removed\n' "${status}" >&2; fi
  exit "${status}"
}

preconditions() {
  [[ "$(id -u)" == 0 ]] || die "run as root (the scripts run PostgreSQL as the ${PG_OS_USER} user): sudo npm run demo"
  [[ -x "${PG_BIN}/postgres" ]] || die "PostgreSQL 15 is not installed: apt-get install -y postgresql-15"
  id "${PG_OS_USER}" >/dev/null 2>&1 || die "no ${PG_OS_USER} OS user (the postgresql-15 package creates it)"
  command -v node >/dev/null 2>&1 || die "node is not installed"
  if [[ ! -f "${REPO_DIR}/dist/cli.js" ]]; then
    say "building pitr (dist/ is missing)"
    (cd "${REPO_DIR}" && npx --no-install tsc -p tsconfig.json)
  fi
}

start_primary() {
  DEMO_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pitr-demo.XXXXXX")"
  chmod 0755 "${DEMO_DIR}"
  # Paths go into postgresql.conf, archive_command and the plan unquoted: keep them plain.
  [[ "${DEMO_DIR}" =~ ^[A-Za-z0-9/._-]+$ ]] || die "TMPDIR gives ${DEMO_DIR}; use a TMPDIR with a plain path"
  PRIMARY="${DEMO_DIR}/primary"
  DATA_DIR="${PRIMARY}/data"
  SOCKET_DIR="${PRIMARY}/run"
  LOG_FILE="${PRIMARY}/server.log"
  ARCHIVE="${DEMO_DIR}/archive"
  PORT="$(free_port)"
  mkdir -p "${DATA_DIR}" "${SOCKET_DIR}" "${ARCHIVE}/base" "${ARCHIVE}/wal"
  chmod 0700 "${DATA_DIR}"
  chown -R "${PG_OS_USER}:" "${PRIMARY}" "${ARCHIVE}"

  say "a throwaway PostgreSQL 15 in ${DEMO_DIR}, archiving WAL into ${ARCHIVE}/wal"
  as_pg "${PG_BIN}/initdb" -D "${DATA_DIR}" --auth=trust -E UTF8 --locale=C -U postgres >/dev/null
  # Socket only, in its own directory; timezone Asia/Tokyo, so a target read in the
  # server's zone instead of its written offset would land hours away.
  cat >>"${DATA_DIR}/postgresql.conf" <<CONF

# pitr-plan demo
port = ${PORT}
listen_addresses = ''
unix_socket_directories = '${SOCKET_DIR}'
timezone = 'Asia/Tokyo'
log_timezone = 'Asia/Tokyo'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f ${ARCHIVE}/wal/%f && cp %p ${ARCHIVE}/wal/%f.tmp && mv ${ARCHIVE}/wal/%f.tmp ${ARCHIVE}/wal/%f'
max_wal_senders = 4
hot_standby = on
CONF
  as_pg "${PG_BIN}/pg_ctl" -D "${DATA_DIR}" -l "${LOG_FILE}" -w -t 60 start >/dev/null
  as_pg "${PG_BIN}/createdb" -h "${SOCKET_DIR}" -p "${PORT}" -U postgres "${DB}"
}

archived() { [[ -f "${ARCHIVE}/wal/$1" ]]; }
backup_history_archived() { compgen -G "${ARCHIVE}/wal/*.backup" >/dev/null; }

# Switches to a new WAL segment and waits until the finished one is archived.
switch_wal() {
  local segment
  segment="$(psql_at "${SOCKET_DIR}" "${PORT}" 'SELECT pg_walfile_name(pg_switch_wal())')"
  wait_for 60 "${segment} in the archive" archived "${segment}"
}

base_backup() {
  say "base backup ${BACKUP_ID} (pg_basebackup -l ${BACKUP_ID}) into ${ARCHIVE}/base/${BACKUP_ID}.tar.gz"
  local staging="${DEMO_DIR}/staging"
  install -d -o "${PG_OS_USER}" "${staging}"
  as_pg "${PG_BIN}/pg_basebackup" -h "${SOCKET_DIR}" -p "${PORT}" -U postgres -D "${staging}" \
    -Ft -z -X none -l "${BACKUP_ID}" -c fast -w
  mv "${staging}/base.tar.gz" "${ARCHIVE}/base/${BACKUP_ID}.tar.gz"
  mkdir -p "${ARCHIVE}/base/${BACKUP_ID}"
  tar -xzf "${ARCHIVE}/base/${BACKUP_ID}.tar.gz" -C "${ARCHIVE}/base/${BACKUP_ID}" backup_label
  chown -R "${PG_OS_USER}:" "${ARCHIVE}/base"
  rm -rf "${staging}"
  # PostgreSQL archives <segment>.<offset>.backup (LABEL, STOP TIME) when the backup ends.
  wait_for 60 "the backup history file" backup_history_archived
}

# count_and_total SOCKET PORT: "rows|sum of amounts" of orders.
count_and_total() {
  psql_at "$1" "$2" 'SELECT count(*), coalesce(sum(amount), 0) FROM orders'
}

make_history() {
  say "the shop takes orders"
  psql_at "${SOCKET_DIR}" "${PORT}" "
    CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric NOT NULL,
                         created_at timestamptz NOT NULL DEFAULT clock_timestamp());
    INSERT INTO orders (id, customer, amount) SELECT i, 'customer-' || i, i % 97 + 3 FROM generate_series(1, 1000) i;" >/dev/null
  base_backup
  # Good orders after the backup, one transaction each batch.
  local batch
  for batch in 0 1 2 3 4; do
    psql_at "${SOCKET_DIR}" "${PORT}" "INSERT INTO orders (id, customer, amount)
      SELECT i, 'customer-' || i, i % 89 + 5 FROM generate_series(1001 + ${batch} * 50, 1050 + ${batch} * 50) i" >/dev/null
  done
  # Clear air on both sides of the target: no commit lands near it.
  sleep 1.5
  AT_TARGET="$(count_and_total "${SOCKET_DIR}" "${PORT}")"
  # The target, written in New York time with its offset (the server runs in Tokyo).
  TARGET="$(TZ=America/New_York date '+%Y-%m-%dT%H:%M:%S.%3N%:z')"
  say "target recorded: ${TARGET}"
  sleep 1.5
  say "the incident: a bad job deletes a third of the orders and zeroes the amounts of others"
  psql_at "${SOCKET_DIR}" "${PORT}" 'DELETE FROM orders WHERE id % 3 = 0' >/dev/null
  psql_at "${SOCKET_DIR}" "${PORT}" 'UPDATE orders SET amount = 0 WHERE id % 5 = 0' >/dev/null
  BEFORE="$(count_and_total "${SOCKET_DIR}" "${PORT}")"
  # A later commit, and the segment holding it all archived.
  switch_wal
}

write_plan() {
  PLAN_FILE="${DEMO_DIR}/plans/${PLAN_NAME}.yaml"
  mkdir -p "${DEMO_DIR}/plans"
  cat >"${PLAN_FILE}" <<YAML
# yaml-language-server: \$schema=${REPO_DIR}/schema/plan.schema.json
version: 1
name: ${PLAN_NAME}
description: Undo the bad job that deleted and zeroed orders
target:
  time: "${TARGET}"
  inclusive: false
postgres:
  version: 15
  database: ${DB}
  dataDir: ${DATA_DIR}
  osUser: ${PG_OS_USER}
  port: ${PORT}
  host: ${SOCKET_DIR}
  binDir: ${PG_BIN}
  service: { kind: pg_ctl, logFile: ${LOG_FILE} }
source:
  kind: local
  path: ${ARCHIVE}
  base: { prefix: base/, layout: tarball }
  wal: { prefix: wal/, compression: none }
  backup: auto
recovery:
  workDir: ${DEMO_DIR}/recovery
  port: $(free_port "${PORT}")
  parallelism: 4
  drainTimeoutSeconds: 10
runtime:
  kind: none
safetyBackup:
  dir: ${DEMO_DIR}/safety
  pgDump: true
verify:
  rowCounts: [orders]
  notAfterTarget:
    - { table: orders, column: created_at }
  queries:
    - { name: no order without a customer, sql: "SELECT count(*) FROM orders WHERE customer = ''", expect: "0" }
YAML
  say "the plan (${PLAN_FILE}):"
  sed 's/^/    /' "${PLAN_FILE}" >&2
}

compile_plan() {
  local -a gate=()
  if ! command -v shellcheck >/dev/null 2>&1; then
    gate=(--no-shellcheck)
    printf 'demo: shellcheck is not installed: compiling without the shellcheck gate (apt-get install shellcheck)\n' >&2
  fi
  say "pitr compile ${PLAN_FILE} --out ${DEMO_DIR}/out"
  node "${REPO_DIR}/bin/pitr.js" compile "${PLAN_FILE}" --out "${DEMO_DIR}/out" "${gate[@]}" >&2
  BUNDLE="${DEMO_DIR}/out/${PLAN_NAME}"
  printf 'the scripts and the RUNBOOK.md a reviewer reads are in %s/\n' "${BUNDLE}" >&2
}

run_bundle() {
  say "./drill.sh: rehearsal on the side port; production is not touched"
  # The scripts log to stderr; pg_ctl's progress lines on stdout go there too, so stdout
  # carries only the result table.
  "${BUNDLE}/drill.sh" >&2
  say "./run.sh --yes: the recovery"
  "${BUNDLE}/run.sh" --yes >&2
  AFTER="$(count_and_total "${SOCKET_DIR}" "${PORT}")"
}

report() {
  local before_rows before_total target_rows target_total after_rows after_total verdict
  IFS='|' read -r before_rows before_total <<<"${BEFORE}"
  IFS='|' read -r target_rows target_total <<<"${AT_TARGET}"
  IFS='|' read -r after_rows after_total <<<"${AFTER}"
  if [[ "${after_rows}" == "${target_rows}" && "${after_total}" == "${target_total}" ]]; then
    verdict="recovered: production is back at the target"
  else
    verdict="MISMATCH: production is not at the target"
  fi
  printf '\norders in database %s, recovered to %s\n' "${DB}" "${TARGET}"
  printf '+-----------------------------+--------+---------------+\n'
  printf '| %-27s | %6s | %13s |\n' 'when' 'rows' 'sum(amount)'
  printf '+-----------------------------+--------+---------------+\n'
  printf '| %-27s | %6s | %13s |\n' 'before (after the incident)' "${before_rows}" "${before_total}"
  printf '| %-27s | %6s | %13s |\n' 'at the target' "${target_rows}" "${target_total}"
  printf '| %-27s | %6s | %13s |\n' 'after the recovery' "${after_rows}" "${after_total}"
  printf '+-----------------------------+--------+---------------+\n'
  printf '%s (the old data directory was kept as %s.pre-pitr-<run id>); demo took %ss\n' \
    "${verdict}" "$(basename "${DATA_DIR}")" "$((SECONDS - STARTED_AT))"
  [[ "${verdict}" == recovered* ]]
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  preconditions
  start_primary
  make_history
  write_plan
  compile_plan
  run_bundle
  report
}

main "$@"
