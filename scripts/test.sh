#!/usr/bin/env bash
# Installs everything the tests need on a Debian machine (as root) and runs every test:
# Debian's shellcheck, awscli (/usr/bin/aws, runnable by the postgres user), zstd, lz4, pigz and
# PostgreSQL 15 when missing; the npm dependencies; then the whole vitest suite (unit
# tests and end-to-end recoveries on real PostgreSQL). Exits non-zero if any test fails.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
[[ -x /usr/bin/aws ]] || missing+=(awscli)
command -v zstd >/dev/null 2>&1 || missing+=(zstd)
# lz4: base backups compressed with pg_basebackup --compress=lz4 (the version matrix).
command -v lz4 >/dev/null 2>&1 || missing+=(lz4)
# pigz: fetch reads .tar.gz with it when present (run-options e2e: used, then a recovery
# on a PATH without it).
command -v pigz >/dev/null 2>&1 || missing+=(pigz)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || missing+=(postgresql-15)
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql-common)
if ((${#missing[@]} > 0)); then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

npm ci --no-audit --no-fund
# CI=true: vitest never writes a missing or differing snapshot (toMatchFileSnapshot
# would otherwise create a missing .expected file and pass).
CI=true npx vitest run
