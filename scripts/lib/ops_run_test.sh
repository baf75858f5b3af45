#!/usr/bin/env bash
# scripts/lib/ops_run_test.sh - the second half of the "ops" stage (issue #20):
# scripts/run itself, started as a user starts it, in a throwaway clone of this
# checkout (its commit plus the uncommitted changes to tracked files) under /tmp,
# on a free HTTP port and a free port for the clone's own PostgreSQL cluster, so
# no other cluster or server is touched. It checks that
#   - it serves /healthz and prints the demo logins; a second one is refused;
#   - Ctrl-C (SIGINT to its process group, as a terminal sends it) stops the app
#     and leaves no process of it behind; the cluster, which is meant to outlive
#     the app, then stops with scripts/db stop and leaves nothing either;
#   - a second start comes back with the same demo data;
#   - a .data/ left by a crash (kill -9 of the cluster: a postmaster.pid naming a
#     dead PID; an old-style run.pid; the run lock file) is recovered from.
# The builds use the shared CARGO_TARGET_DIR, so they are incremental: the first
# costs what a rebuild of the crate costs, the next two seconds.
#
# Prints "ok - CHECK" or "not ok - CHECK" per check; exits non-zero if one failed.
# OPS_RUN=0 skips it (one "ok - skipped" line). OPS_RUN_BUILD_SECS (2400) bounds each start:
# any of them may rebuild when another checkout sharing the target dir built meanwhile.
#
#   bash scripts/lib/ops_run_test.sh
if [ "${OPS_RUN:-1}" = 0 ]; then echo "ok - scripts/run in a clone: skipped (OPS_RUN=0)"; exit 0; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
T="$(cd "$(mktemp -d /tmp/autodoctor-ops-run.XXXXXX)" && pwd -P)"
chmod 755 "$T"  # PostgreSQL runs as "postgres" when we are root
APP_PORT="$(free_port)" CLUSTER_PORT="$(free_port)"
C="$T/app"
# common.sh's cluster helpers, aimed at the clone's .data/ and port.
export AUTODOCTOR_DATA_DIR="$C/.data" AUTODOCTOR_PG_PORT="$CLUSTER_PORT"
unset DATABASE_URL
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

APP=""
cleanup() {
  set +e
  if [ -n "$APP" ] && kill -0 "$APP" 2>/dev/null; then kill -KILL -- "-$APP" 2>/dev/null; fi
  if [ -f "$PG_DIR/postmaster.pid" ] && pid_is_our_postmaster "$(postmaster_pid)"; then
    pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR" -m immediate -w stop >/dev/null 2>&1
  fi
  for p in $(procs_in_clone); do kill -KILL "$p" 2>/dev/null; done
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

# procs_in_clone: every process working in the clone or started from it (its
# working directory or its executable there, or its command line naming it).
procs_in_clone() {
  local p pid
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
    case "$(readlink "$p/cwd" 2>/dev/null) $(readlink "$p/exe" 2>/dev/null) $(proc_cmdline "$pid")" in
      *"$C"*) echo "$pid" ;;
    esac
  done
}
no_procs_in_clone() {  # no_procs_in_clone [EXCEPT_REGEX]: nothing of the clone runs (but EXCEPT)
  local left="" pid
  for pid in $(procs_in_clone); do
    [ -n "${1:-}" ] && [[ "$(proc_cmdline "$pid")" =~ $1 ]] && continue
    left+="  PID $pid $(proc_cmdline "$pid")"$'\n'
  done
  [ -z "$left" ] || { printf 'still running:\n%s' "$left"; return 1; }
}

RUN_ENV=(env -u DATABASE_URL -u PUBLIC_URL -u STRIPE_SECRET_KEY -u STRIPE_WEBHOOK_SECRET -u SMTP_URL
  HOST=127.0.0.1 PORT="$APP_PORT" AUTODOCTOR_DATA_DIR="$C/.data" AUTODOCTOR_PG_PORT="$CLUSTER_PORT"
  AUTODOCTOR_PG_FSYNC=off CARGO_TARGET_DIR="$CARGO_TARGET_DIR")

# start_app LOG: scripts/run in a session and process group of its own, as a
# terminal starts it ($APP is the group's ID; scripts/run execs the server in it).
start_app() {
  setsid "${RUN_ENV[@]}" bash "$C/scripts/run" > "$1" 2>&1 < /dev/null &
  APP=$!
}
# serving LOG SECS: within SECS, /healthz answers 200 with the database ok and
# LOG shows the banner with the demo logins.
serving() {
  local log="$1" deadline=$((SECONDS + $2))
  until curl -fsS --max-time 2 "http://127.0.0.1:$APP_PORT/healthz" > "$T/healthz" 2>/dev/null; do
    if ! kill -0 "$APP" 2>/dev/null; then echo "scripts/run exited:"; tail -30 "$log"; return 1; fi
    if [ $SECONDS -ge $deadline ]; then echo "no answer on /healthz in $2 s:"; tail -30 "$log"; return 1; fi
    sleep 1
  done
  grep -q '"database":"ok"' "$T/healthz" || { cat "$T/healthz"; return 1; }
  grep -q "autodoctor is starting on http://127.0.0.1:$APP_PORT" "$log" \
    && grep -Eq '^ +workshop owner +owner@northside\.test +demo-password$' "$log" \
    || { echo "no banner with the demo logins:"; tail -30 "$log"; return 1; }
}
# ctrl_c: SIGINT to the app's process group; the app must be gone within 30 s,
# its port and the run lock free, and no process of its group left.
ctrl_c() {
  local rc=0 left
  kill -INT -- "-$APP" || return 1
  for _ in $(seq 300); do kill -0 "$APP" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$APP" 2>/dev/null; then echo "the app (PID $APP) still runs 30 s after SIGINT"; return 1; fi
  wait "$APP" || rc=$?
  echo "exit status $rc"
  [ "$rc" = 0 ] || [ "$rc" = 130 ] || return 1
  left="$(ps -e -o pid=,pgid=,args= | awk -v g="$APP" '$2 == g')"
  [ -z "$left" ] || { echo "left in its process group:"; echo "$left"; return 1; }
  ! (exec 3<>"/dev/tcp/127.0.0.1/$APP_PORT") 2>/dev/null || { echo "port $APP_PORT still answers"; return 1; }
  [ -z "$(lock_holders "$DATA_DIR/run.lock")" ] || { lock_holders "$DATA_DIR/run.lock"; return 1; }
  APP=""
}
cluster_outlives_app() {  # the cluster keeps running (by design), in a session of its own
  local pid; pid="$(postmaster_pid)"
  pid_is_our_postmaster "$pid" && [ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] \
    && [ "$(psql -X -tA "postgres://postgres@127.0.0.1:$CLUSTER_PORT/postgres" -c 'SELECT 1')" = 1 ]
}
db_stop_leaves_nothing() {
  "${RUN_ENV[@]}" bash "$C/scripts/db" stop && no_procs_in_clone \
    && ! (exec 3<>"/dev/tcp/127.0.0.1/$CLUSTER_PORT") 2>/dev/null
}
# The demo data a start leaves: every user and organisation with its ID (the seed
# must find them again, not make new ones).
demo_data() {
  psql -X -tA "postgres://postgres@127.0.0.1:$CLUSTER_PORT/autodoctor" -c \
    "SELECT (SELECT string_agg(id || ' ' || email, ',' ORDER BY email) FROM users)
         || ' | ' || (SELECT string_agg(id || ' ' || name, ',' ORDER BY name) FROM organizations)"
}
same_demo_data() {
  local now; now="$(demo_data)" || return 1
  [ -n "$now" ] && [ "$now" = "$(cat "$T/demo-data")" ] || { echo "before: $(cat "$T/demo-data")"; echo "now:    $now"; return 1; }
}
second_run_refused() {
  local out rc=0
  out="$(timeout 60 "${RUN_ENV[@]}" bash "$C/scripts/run" 2>&1 < /dev/null)" || rc=$?
  echo "$out"
  [ $rc != 0 ] && [ $rc != 124 ] && grep -q "autodoctor is already running from this folder" <<<"$out" \
    && grep -q "^  PID $APP " <<<"$out" && kill -0 "$APP"
}

START_SECS="${OPS_RUN_BUILD_SECS:-2400}"
STARTED=$SECONDS
if ! git clone -q "$ROOT" "$C" 2> "$T/clone.log" \
   || ! git -C "$C" checkout -q --detach "$(git -C "$ROOT" rev-parse HEAD)" 2>> "$T/clone.log" \
   || ! { git -C "$ROOT" diff --binary HEAD | git -C "$C" apply --allow-empty; } 2>> "$T/clone.log"; then
  echo "not ok - a clone of this checkout for scripts/run"; sed 's/^/#   /' "$T/clone.log"; exit 1
fi

# ---- a first start: build, cluster, seed, serve
start_app "$T/run1.log"
check "scripts/run in a fresh clone serves /healthz and prints the demo logins (port $APP_PORT, cluster $CLUSTER_PORT)" \
  serving "$T/run1.log" "$START_SECS"
BUILT=$SECONDS
demo_data > "$T/demo-data" 2>&1
check "a second scripts/run in the same clone is refused while the first runs, naming it" second_run_refused
check "Ctrl-C stops the app: it exits, nothing of its process group is left, port and run lock free" ctrl_c
check "the cluster outlives the app, in a session of its own (Ctrl-C in the terminal never reaches it)" \
  cluster_outlives_app
check "scripts/db stop then stops the cluster and nothing of the clone is left running" db_stop_leaves_nothing

# ---- a second start, with the cluster stopped: same demo data
start_app "$T/run2.log"
check "a second start (cluster stopped) serves again" serving "$T/run2.log" "$START_SECS"
check "the second start has the same demo data (same users and organisations, same IDs)" same_demo_data
check "Ctrl-C stops the second start too" ctrl_c

# ---- a crash: the cluster is killed -9 and an old-style run.pid is left behind
crash() {
  local pid; pid="$(postmaster_pid)"
  pid_is_our_postmaster "$pid" || { echo "no cluster running (PID file says '$pid')"; return 1; }
  for p in $(procs_in_clone); do kill -KILL "$p" 2>/dev/null; done
  for _ in $(seq 100); do [ -z "$(procs_in_clone)" ] && break; sleep 0.1; done
  echo 999999 > "$DATA_DIR/run.pid"
  # (A zombie left for PID 1 to reap counts as dead: proc_running.)
  [ -f "$PG_DIR/postmaster.pid" ] && [ -f "$DATA_DIR/run.lock" ] && ! proc_running "$pid" && no_procs_in_clone
}
check "a crash leaves .data/ stale: postmaster.pid naming a dead PID, run.lock and run.pid files" crash
start_app "$T/run3.log"
recovered() {
  serving "$T/run3.log" "$START_SECS" && grep -q "removing the stale .*postmaster.pid.*is not running" "$T/run3.log" \
    || { grep -i stale "$T/run3.log"; return 1; }
}
check "scripts/run recovers from the stale .data/ (says so) and serves" recovered
check "after the crash the demo data is still the same" same_demo_data
check "Ctrl-C stops the recovered app" ctrl_c
check "and scripts/db stop leaves nothing of the clone running" db_stop_leaves_nothing

echo "# scripts/run checks took $((SECONDS - STARTED)) s (the first build $((BUILT - STARTED)) s)"
[ "$FAILED" = 0 ]
