#!/usr/bin/env bash
# The compile-checked SQL's offline data (.sqlx/, committed): builds never need a
# database (SQLX_OFFLINE=true, set in common.sh), and this keeps the data true.
#
#   bash scripts/lib/sqlx_prepare.sh write   regenerate .sqlx/ after changing a query or a migration
#   bash scripts/lib/sqlx_prepare.sh check   fail when .sqlx/ is stale (scripts/test, stage "sqlx")
#
# Both migrate a fresh database with migrations/*.sql, then recompile the crate
# with the query macros live against it (sqlx writes each query's data to
# SQLX_OFFLINE_DIR), and compare that with .sqlx/ or replace .sqlx/ with it.
source "$(dirname "$0")/common.sh"

mode="${1:-check}"
case "$mode" in write|check) ;; *) die "usage: scripts/lib/sqlx_prepare.sh write|check" ;; esac

ensure_rust
ensure_postgres
# SQLX_DB: another database name, for a second checkout working at the same time.
db_url="$(ensure_database "${SQLX_DB:-autodoctor_sqlx}" fresh)"
for f in "$ROOT"/migrations/*.sql; do
  psql -X -q -v ON_ERROR_STOP=1 "$db_url" -f "$f" >/dev/null || die "migration $(basename "$f") failed on a fresh database"
done

out="$(mktemp -d /tmp/autodoctor-sqlx.XXXXXX)"
trap 'rm -rf "$out"' EXIT
# Proc macros run again only when the crate is compiled again.
touch "$ROOT/src/lib.rs"
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$out" DATABASE_URL="$db_url" \
  cargo check --quiet --features ssr --all-targets >&2 || die "the crate does not build against the migrated schema"

if [ "$mode" = write ]; then
  rm -rf "$ROOT/.sqlx"
  mkdir -p "$ROOT/.sqlx"
  cp "$out"/query-*.json "$ROOT/.sqlx/" 2>/dev/null || true
  log "wrote $(ls "$ROOT/.sqlx" | wc -l) query files to .sqlx/"
else
  if ! diff -r -q "$out" "$ROOT/.sqlx" >&2; then
    die ".sqlx/ is stale: run 'bash scripts/lib/sqlx_prepare.sh write' and commit .sqlx/"
  fi
  log ".sqlx/ matches the queries and the migrated schema ($(ls "$out" | wc -l) queries)"
fi
