#!/usr/bin/env bash
# scripts/lib/ops_test.sh - the "ops" stage of scripts/test (issue #19): the run lock
# and the local PostgreSQL cluster, through the functions scripts/run uses, in a
# temporary data folder under /tmp on port 54339 (OPS_PG_PORT). No cargo, no browser,
# a few seconds; the folder and its cluster are removed at the end, even on failure.
#
# Prints "ok - CHECK" or "not ok - CHECK" per check; exits non-zero if one failed.
#
#   bash scripts/lib/ops_test.sh
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

if [ "${1:-}" = --hold ]; then
  # The stand-in for scripts/run: its lock and cluster start, then an "app" that
  # keeps fd 9 as the server it execs does.
  source "$(dirname "$SELF")/common.sh"
  take_run_lock
  ensure_postgres
  exec -a autodoctor-ops-app sleep 600
fi

T="$(cd "$(mktemp -d /tmp/autodoctor-ops.XXXXXX)" && pwd -P)"
chmod 755 "$T"  # PostgreSQL runs as "postgres" when we are root
export AUTODOCTOR_DATA_DIR="$T/data" AUTODOCTOR_PG_PORT="${OPS_PG_PORT:-54339}" AUTODOCTOR_PG_FSYNC=off
unset DATABASE_URL
source "$(dirname "$SELF")/common.sh"
case "$PG_DIR" in "$T"/*) ;; *) echo "not ok - the cluster is not in the temporary folder ($PG_DIR)"; exit 1 ;; esac

HOLDER="" SLEEPER=""
cleanup() {
  set +e
  for p in $HOLDER $SLEEPER; do kill "$p" 2>/dev/null; done
  if [ -f "$PG_DIR/postmaster.pid" ] && pid_is_our_postmaster "$(postmaster_pid)"; then
    pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR" -m immediate -w stop >/dev/null 2>&1
  fi
  for p in /proc/[0-9]*; do  # any server of ours a failed check left without its PID file
    [ "$(readlink "$p/cwd" 2>/dev/null)" = "$PG_DIR" ] && kill -QUIT "${p#/proc/}" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT

FAILED=0
check() {  # check NAME COMMAND...: one line, ok or not ok
  local name="$1"; shift
  if "$@" > "$T/check.out" 2>&1; then echo "ok - $name"; else
    echo "not ok - $name"; sed 's/^/#   /' "$T/check.out"; FAILED=$((FAILED + 1))
  fi
}
sql_works() { [ "$(psql -X -tA "postgres://postgres@$PG_HOST:$PG_PORT/postgres" -c 'SELECT 1')" = 1 ]; }
stop_cluster() { pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null; }
take_run_lock_in_subshell() { (take_run_lock); }
start_logged() { (start_local_cluster) > "$T/start.log" 2>&1; local rc=$?; cat "$T/start.log"; return $rc; }

if (exec 3<>"/dev/tcp/$PG_HOST/$PG_PORT") 2>/dev/null; then
  echo "not ok - port $PG_PORT is free (something listens there; set OPS_PG_PORT)"; exit 1
fi

# ---- the lock is the app's alone, and the cluster outlives it
bash "$SELF" --hold > "$T/holder.log" 2>&1 &
HOLDER=$!
for _ in $(seq 600); do
  [[ "$(proc_cmdline "$HOLDER")" = autodoctor-ops-app* ]] && break
  kill -0 "$HOLDER" 2>/dev/null || break
  sleep 0.1
done
started_under_lock() { cat "$T/holder.log"; kill -0 "$HOLDER" && sql_works; }
check "scripts/run's path started the cluster while holding the run lock" started_under_lock
echo 999999 > "$DATA_DIR/run.pid"  # what an older scripts/run could leave behind
only_app_holds() { lock_holders "$DATA_DIR/run.lock"; [ "$(lock_holders "$DATA_DIR/run.lock" | cut -d' ' -f1)" = "$HOLDER" ]; }
check "only the app holds the run lock (no PostgreSQL process inherited it)" only_app_holds
refused() {
  local out rc=0
  out="$( (take_run_lock) 2>&1 )" || rc=$?
  echo "$out"
  [ $rc != 0 ] && grep -qx "  PID $HOLDER autodoctor-ops-app 600" <<<"$out" && ! grep -q 999999 <<<"$out"
}
check "a second start is refused, naming the holder's PID and command line" refused
kill "$HOLDER" 2>/dev/null || true; wait "$HOLDER" 2>/dev/null || true; HOLDER=""
check "once the app has exited the lock can be taken again" take_run_lock_in_subshell
check "the cluster keeps running after the app exits" sql_works
legacy_refusal() {  # a cluster from before the fix holds the lock: scripts/db stop is the way out
  local out rc=0 p
  (exec 9>>"$DATA_DIR/run.lock"; flock 9; exec -a "postgres: checkpointer" sleep 600) & p=$!
  for _ in $(seq 100); do [[ "$(proc_cmdline "$p")" = postgres* ]] && break; sleep 0.1; done
  out="$( (take_run_lock) 2>&1 )" || rc=$?
  kill "$p"; echo "$out"
  [ $rc != 0 ] && grep -qx "  PID $p postgres: checkpointer 600" <<<"$out" && grep -q "releases it: scripts/db stop" <<<"$out"
}
check "a lock held by a cluster an older scripts/run started is explained (scripts/db stop)" legacy_refusal

# ---- a postmaster.pid left by a reboot or kill -9
cp "$PG_DIR/postmaster.pid" "$T/postmaster.pid"
stale_pid() {  # stale_pid PID: stops the cluster and leaves a postmaster.pid naming PID
  stop_cluster && { echo "$1"; tail -n +2 "$T/postmaster.pid"; } > "$PG_DIR/postmaster.pid"
}
sh -c : & GONE=$!; wait $GONE
recovered_from() {  # recovered_from PID WHAT: a postmaster.pid naming PID is recovered, logged as WHAT
  stale_pid "$1" && start_logged && sql_works && grep -q "stale.*PID $1 is $2" "$T/start.log"
}
check "a stale postmaster.pid whose process is gone is recovered" recovered_from "$GONE" "not running"
# Another program, of the user PostgreSQL runs as (one pg_ctl could signal), that SIGINT stops.
if [ "$IS_ROOT" = 1 ]; then as_pg=(setpriv --reuid=postgres --regid=postgres --clear-groups); else as_pg=(); fi
"${as_pg[@]}" env --default-signal sleep 600 & SLEEPER=$!
check "a stale postmaster.pid whose PID now belongs to another program is recovered" \
  recovered_from "$SLEEPER" "now sleep 600"
stop_spares() { stale_pid "$1" && (stop_local_cluster) && sleep 0.2 && kill -0 "$1"; }
check "stopping the cluster never signals the process a stale postmaster.pid names" stop_spares "$SLEEPER"
kill "$SLEEPER" 2>/dev/null || true; SLEEPER=""

# ---- an interrupted initdb, and a cluster that lost its core files
partial_initdb_replaced() {
  rm -rf "$PG_DIR" && mkdir -p "$PG_DIR.init.x1" "$PG_DIR" && echo 15 > "$PG_DIR/PG_VERSION" \
    && start_logged && sql_works && ! [ -e "$PG_DIR.init.x1" ]
}
check "an interrupted initdb (partial data folder and temporary folder) is replaced by a fresh cluster" \
  partial_initdb_replaced
damaged() {
  local out rc=0
  stop_cluster && rm "$PG_DIR/global/pg_control" || return 1
  out="$( (start_local_cluster) 2>&1 )" || rc=$?
  echo "$out"
  [ $rc != 0 ] && [ -f "$PG_DIR/PG_VERSION" ] && grep -q "mv $PG_DIR $PG_DIR.damaged" <<<"$out"
}
check "a cluster that has run but lost global/pg_control is kept, and the command that fixes it named" damaged

[ "$FAILED" = 0 ]
