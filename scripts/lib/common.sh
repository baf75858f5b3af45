# Shared by scripts/run, scripts/test, scripts/db and scripts/bench. Source it; do not run it.
#
# It makes this machine ready to build and run autodoctor (toolchain, browser,
# local PostgreSQL) and does nothing that is already done, so a second run
# costs seconds.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# ------------------------------------------------------------------ logging
log()  { printf '\033[1;34m[autodoctor]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m[autodoctor]\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[1;31m[autodoctor] error:\033[0m %s\n' "$*" >&2; exit 1; }

[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
export PATH="$HOME/.cargo/bin:$PATH"

IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
as_root() { if [ $IS_ROOT = 1 ]; then "$@"; else sudo "$@"; fi; }

# Versions the project is pinned to. cargo-leptos: any 0.3.x already present is
# kept (never installed twice); otherwise 0.3.11 on rustc >= 1.96, 0.3.10 before.
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' "$ROOT/Cargo.lock")"
BINARYEN_NPM_VERSION="${BINARYEN_NPM_VERSION:-132.0.0}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# Compile-checked SQL reads the committed .sqlx/ data: no build needs a database
# (scripts/lib/sqlx_prepare.sh writes and checks that data).
export SQLX_OFFLINE="${SQLX_OFFLINE:-true}"
SERVER_BIN="$CARGO_TARGET_DIR/debug/autodoctor"

# ------------------------------------------------------------------ apt
APT_UPDATED=0
apt_install() {  # installs only the packages that are missing
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ $APT_UPDATED = 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ------------------------------------------------------------------ Rust toolchain
# Two routes to a wasm32 standard library:
#   rustup: `rustup target add wasm32-unknown-unknown` can download -> rustup's toolchain.
#   debian: it cannot -> Debian's rustc-web (1.96), with the wasm32 std built from
#           its sources once, linked as the rustup toolchain "debian".
DEBIAN_TC=debian
WASM_SYSROOT=/usr/lib/rustlib/wasm32-unknown-unknown/lib
DEBIAN_STAMP="$WASM_SYSROOT/.autodoctor-wasm-std-stamp"
HOST_BIN=/usr/lib/rustlib/x86_64-unknown-linux-gnu/bin

debian_stamp_ok() {
  [ -x /usr/bin/rustc ] && [ -f "$DEBIAN_STAMP" ] && [ "$(/usr/bin/rustc -vV)" = "$(cat "$DEBIAN_STAMP")" ]
}

build_debian_wasm_std() {
  log "building the wasm32 standard library with Debian's rustc (about a minute, once)"
  local w; w="$(mktemp -d /tmp/wasm-std-build.XXXXXX)"
  mkdir -p "$w/src"; : > "$w/src/lib.rs"
  printf '[package]\nname = "wasm-std-dummy"\nversion = "0.0.0"\nedition = "2021"\n[lib]\ncrate-type = ["rlib"]\n[profile.release]\nopt-level = 3\ndebug = 0\ncodegen-units = 1\n' > "$w/Cargo.toml"
  # -Cembed-bitcode=yes like the official std, so `lto = true` profiles work.
  ( cd "$w" && env -u RUSTUP_TOOLCHAIN RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
      RUSTFLAGS="-Cembed-bitcode=yes" CARGO_TARGET_DIR="$w/target" \
      /usr/bin/cargo build -q --release --target wasm32-unknown-unknown \
      -Zbuild-std=std,panic_abort,proc_macro,test )
  as_root mkdir -p "$WASM_SYSROOT"
  as_root find "$WASM_SYSROOT" -maxdepth 1 -type f \( -name 'lib*.rlib' -o -name 'lib*.rmeta' \) -delete
  as_root find "$w/target/wasm32-unknown-unknown/release/deps" -maxdepth 1 \
    \( -name 'lib*.rlib' -o -name 'lib*.rmeta' \) ! -name 'libwasm_std_dummy-*' -exec cp -t "$WASM_SYSROOT" {} +
  /usr/bin/rustc -vV | as_root tee "$DEBIAN_STAMP" >/dev/null
  rm -rf "$w"
}

TOOLCHAIN_MODE=""
ensure_rust() {
  command -v rustup >/dev/null || die "rustup is not installed; this machine kind always has it"
  local default_tc
  default_tc="$(cd / && rustup default 2>/dev/null | awk '{print $1}')"
  TOOLCHAIN_MODE="${TOOLCHAIN_MODE_OVERRIDE:-}"
  if [ -z "$TOOLCHAIN_MODE" ]; then
    if rustup target list --installed --toolchain "$default_tc" 2>/dev/null | grep -qx wasm32-unknown-unknown; then
      TOOLCHAIN_MODE=rustup
    elif debian_stamp_ok && rustup toolchain list | grep -q "^$DEBIAN_TC"; then
      TOOLCHAIN_MODE=debian
    else
      log "trying rustup target add wasm32-unknown-unknown (60 s at most)"
      if timeout 60 rustup target add wasm32-unknown-unknown --toolchain "$default_tc" >/dev/null 2>&1; then
        TOOLCHAIN_MODE=rustup
      else
        warn "rustup cannot download here; using Debian's Rust with a locally built wasm32 std"
        TOOLCHAIN_MODE=debian
      fi
    fi
  fi

  if [ "$TOOLCHAIN_MODE" = rustup ]; then
    RUST_TC="$default_tc"
    # A previous Debian-mode run may have left a directory override.
    if [ "$(rustup show active-toolchain 2>/dev/null | awk '{print $1}')" = "$DEBIAN_TC" ]; then
      rustup override unset --path "$ROOT" >/dev/null
    fi
    rustup component list --installed --toolchain "$RUST_TC" 2>/dev/null | grep -q '^clippy' \
      || timeout 120 rustup component add clippy rustfmt --toolchain "$RUST_TC" >/dev/null 2>&1 || true
  else
    RUST_TC="$DEBIAN_TC"
    apt_install rustc-web cargo-web rust-web-src rust-web-clippy rustfmt-web
    local llvm_major lld
    llvm_major="$(/usr/bin/rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')"
    lld="/usr/lib/llvm-$llvm_major/bin/lld"
    [ -x "$lld" ] || apt_install "lld-$llvm_major"
    if [ "$(readlink "$HOST_BIN/rust-lld" 2>/dev/null)" != "$lld" ]; then
      as_root mkdir -p "$HOST_BIN"; as_root ln -sfn "$lld" "$HOST_BIN/rust-lld"
    fi
    if [ "$(readlink -f "$HOME/.rustup/toolchains/$DEBIAN_TC" 2>/dev/null)" != /usr ]; then
      rustup toolchain link "$DEBIAN_TC" /usr
    fi
    debian_stamp_ok || build_debian_wasm_std
    if [ "$(rustup show active-toolchain 2>/dev/null | awk '{print $1}')" != "$DEBIAN_TC" ]; then
      rustup override set "$DEBIAN_TC" --path "$ROOT" >/dev/null
    fi
  fi
  # The server decodes HEIC photos with the system's libheif (sessions/photos/heic.rs).
  apt_install pkg-config libheif-dev
  export RUSTUP_TOOLCHAIN="$RUST_TC"
}

# ------------------------------------------------------------------ build tools
ensure_cargo_leptos() {
  if cargo-leptos --version 2>/dev/null | grep -q '^cargo-leptos 0\.3\.'; then return 0; fi
  local minor version
  minor="$(rustc -V | sed -n 's/^rustc 1\.\([0-9]*\).*/\1/p')"
  if [ "${minor:-0}" -ge 96 ]; then version=0.3.11; else version=0.3.10; fi
  log "installing cargo-leptos $version (once; about 15-30 minutes on 2 cores)"
  # A light release profile: cargo-leptos' own fat-LTO profile doubles the install time
  # for no benefit here. no_downloads: never try GitHub for its helpers.
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=0 \
    cargo install cargo-leptos --version "$version" --locked --features no_downloads
}

ensure_wasm_bindgen() {
  if [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then return 0; fi
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock; about 5 minutes, once)"
  # --locked can fail when the registry lacks a locked dependency version.
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked --force \
  || CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
}

ensure_node() {
  command -v npm >/dev/null || apt_install nodejs npm
  # Release builds run wasm-opt; Debian's binaryen is too old, npm's is current.
  local wo
  wo="$(wasm-opt --version 2>/dev/null | sed -n 's/.*version \([0-9]*\).*/\1/p' || true)"
  if [ -z "$wo" ] || [ "$wo" -lt 120 ]; then
    log "installing wasm-opt (npm binaryen@$BINARYEN_NPM_VERSION)"
    as_root npm install -g --no-audit --no-fund "binaryen@$BINARYEN_NPM_VERSION" >/dev/null 2>&1
    hash -r
  fi
}

ensure_browser() {
  # coturn: the TURN relay the call tests go through (scripts/test starts it on loopback).
  apt_install chromium coturn
  if [ ! -d "$ROOT/end2end/node_modules/playwright-core" ] \
     || [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
    log "installing end-to-end test dependencies (playwright-core; no browser download)"
    ( cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >/dev/null 2>&1 \
      || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund >/dev/null )
  fi
}

ensure_tools() {
  local started=$SECONDS
  ensure_rust
  ensure_cargo_leptos
  ensure_wasm_bindgen
  ensure_node
  [ "${1:-}" = with-browser ] && ensure_browser
  log "toolchain ready in $((SECONDS - started)) s ($TOOLCHAIN_MODE: $(rustc -V))"
}

# ------------------------------------------------------------------ locks and background processes
# What the scripts keep at run time lives in .data/ (AUTODOCTOR_DATA_DIR moves it;
# scripts/lib/ops_test.sh uses a temporary one).
DATA_DIR="${AUTODOCTOR_DATA_DIR:-$ROOT/.data}"
rel() { printf '%s' "${1#"$ROOT"/}"; }  # a path as messages show it

# detached CMD...: runs CMD with only this shell's stdin, stdout and stderr. Whatever
# may outlive the script (the PostgreSQL cluster) is started so: an inherited lock
# descriptor would keep the script's lock held long after it ended (issue #19).
detached() {
  (
    for fd in "/proc/$BASHPID/fd"/*; do
      fd="${fd##*/}"
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    "$@"
  )
}

proc_cmdline() {  # proc_cmdline PID: its command line, empty once it is gone
  { tr '\0' ' ' < "/proc/$1/cmdline" | sed 's/ *$//'; } 2>/dev/null || true
}

# proc_running PID: the process exists and is not a zombie. A server killed with
# -9 whose parent is gone waits as a zombie until PID 1 reaps it, which some
# container inits do late: it has a /proc entry, answers kill -0, and is dead.
proc_running() {
  local state
  state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# lock_holders FILE: "PID command line" of every process that has FILE open, from
# /proc/*/fd (a PID file could name a process that is long gone, or a new one).
lock_holders() {
  local target pid
  target="$(readlink -f "$1" | sed 's/[][*?\\]/\\&/g')"
  { find /proc/[0-9]*/fd -maxdepth 1 -lname "$target" 2>/dev/null || true; } \
    | cut -d/ -f3 | sort -un | while read -r pid; do printf '%s %s\n' "$pid" "$(proc_cmdline "$pid")"; done
}

# take_lock FD FILE WHAT HINT: holds an exclusive lock on FILE through descriptor FD
# while this shell, and what it execs, lives; or dies with WHAT, the processes that
# really hold FILE, and HINT.
take_lock() {
  local fd="$1" file="$2" what="$3" hint="$4" holders
  mkdir -p "$(dirname "$file")"
  eval "exec $fd>>\"\$file\""
  flock -n "$fd" && return 0
  eval "exec $fd>&-"
  holders="$(lock_holders "$file")"
  if [ -z "$holders" ]; then
    die "$what: $(rel "$file") is locked by a process this user cannot see (sudo fuser -v $(rel "$file") names it)"
  elif ! grep -Evq '^[0-9]+ ([^ ]*/)?postgres( |:)' <<<"$holders"; then
    # Only PostgreSQL: a cluster started by a script from before issue #19 was fixed.
    die "$(rel "$file") is held by the PostgreSQL cluster, not by a running script:
$(sed 's/^/  PID /' <<<"$holders")
It was started by an older script that passed its lock on; this releases it: scripts/db stop"
  fi
  die "$what; $(rel "$file") is held by:
$(sed 's/^/  PID /' <<<"$holders")
$hint"
}

# One scripts/run per checkout: a second one would fight over the port and the build.
take_run_lock() {
  take_lock 9 "$DATA_DIR/run.lock" "autodoctor is already running from this folder" \
    "Stop it first (Ctrl-C in its terminal)."
}

# ------------------------------------------------------------------ PostgreSQL
# With DATABASE_URL set, that server is used as it is. Otherwise a cluster of the
# project's own lives in .data/postgres, on its own port (AUTODOCTOR_PG_PORT), and
# is reused while it runs.
PG_DIR="$DATA_DIR/postgres"
PG_PORT="${AUTODOCTOR_PG_PORT:-54329}"
PG_HOST=127.0.0.1

pg_run() {  # PostgreSQL refuses to run as root: run its programs as "postgres" then.
  if [ $IS_ROOT = 1 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pid_is_our_postmaster PID: PID is alive, a postgres program, and works in PG_DIR.
# After a reboot or a kill -9, postmaster.pid stays behind and its PID may since
# have gone to another process, which pg_ctl would take for the server.
pid_is_our_postmaster() {
  local cwd
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  [[ "$(proc_cmdline "$1")" =~ ^([^ ]*/)?(postgres|postmaster)( |$) ]] || return 1
  cwd="$(readlink "/proc/$1/cwd" 2>/dev/null)" || return 0  # cannot tell: assume it is
  [ "$cwd" = "$(cd "$PG_DIR" && pwd -P)" ]
}

postmaster_pid() { head -1 "$PG_DIR/postmaster.pid" 2>/dev/null || true; }

local_cluster_running() {
  [ -f "$PG_DIR/postmaster.pid" ] && pid_is_our_postmaster "$(postmaster_pid)"
}

# cluster_state: none, ready, unfinished (an initdb that never completed; nothing was
# ever stored in it) or damaged (it has run, yet its core files are missing). A cluster
# that never ran is complete once initdb made its last database, postgres (base/5).
cluster_state() {
  if [ ! -e "$PG_DIR" ]; then echo none
  elif [ -f "$PG_DIR/PG_VERSION" ] && [ -f "$PG_DIR/global/pg_control" ] \
       && { [ -f "$PG_DIR/postmaster.opts" ] || [ -f "$PG_DIR/base/5/PG_VERSION" ]; }; then echo ready
  elif [ -f "$PG_DIR/postmaster.opts" ]; then echo damaged
  else echo unfinished
  fi
}

start_local_cluster() {
  [ -x "$PG_BIN/initdb" ] || apt_install postgresql-15
  mkdir -p "$DATA_DIR"
  # One setup at a time (scripts/run and scripts/test may start together). The lock's
  # descriptor is closed before PostgreSQL starts and never reaches it.
  local lock_fd
  exec {lock_fd}>>"$DATA_DIR/postgres.lock"
  flock -w 120 "$lock_fd" || die "another script has been setting up $(rel "$PG_DIR") for 2 minutes"
  setup_local_cluster
  exec {lock_fd}>&-
}

setup_local_cluster() {
  local d pid
  # initdb works in a temporary directory renamed into place when it is done, so a
  # killed initdb leaves only that directory behind.
  for d in "$PG_DIR".init.*; do
    [ -d "$d" ] || continue
    warn "removing $(rel "$d"), left by an initdb that was interrupted"
    rm -rf "$d"
  done
  case "$(cluster_state)" in
    unfinished)
      warn "removing $(rel "$PG_DIR"): its initdb never finished (it never ran; nothing is lost)"
      rm -rf "$PG_DIR" ;;
    damaged)
      die "$(rel "$PG_DIR") has run before but lacks PG_VERSION or global/pg_control. Move it aside and the next start makes a fresh cluster: mv $(rel "$PG_DIR") $(rel "$PG_DIR").damaged" ;;
  esac
  if [ ! -e "$PG_DIR" ]; then
    log "creating the local PostgreSQL cluster in $(rel "$PG_DIR") (port $PG_PORT)"
    d="$(mktemp -d "$PG_DIR.init.XXXXXX")"
    [ $IS_ROOT = 1 ] && chown postgres:postgres "$d"
    chmod 700 "$d"
    local nosync=()  # a cluster without fsync need not be synced once made either
    [ "${AUTODOCTOR_PG_FSYNC:-on}" = off ] && nosync=(--no-sync)
    pg_run "$PG_BIN/initdb" "${nosync[@]}" -D "$d" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
      || { rm -rf "$d"; die "initdb failed"; }
    mv -T "$d" "$PG_DIR"
  fi
  if local_cluster_running; then return 0; fi
  if [ -f "$PG_DIR/postmaster.pid" ]; then
    pid="$(postmaster_pid)"
    if [ -n "$pid" ] && proc_running "$pid"; then d="now $(proc_cmdline "$pid")"; else d="not running"; fi
    warn "removing the stale $(rel "$PG_DIR")/postmaster.pid of a server that did not stop (reboot or kill -9): PID $pid is $d"
    rm -f "$PG_DIR/postmaster.pid" "$PG_DIR"/.s.PGSQL.*.lock
  fi
  log "starting the local PostgreSQL cluster (port $PG_PORT)"
  # The socket lives in the data directory: the machine's own cluster is never touched.
  detached pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 60 start \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=$PG_HOST -c max_connections=300 -c fsync=${AUTODOCTOR_PG_FSYNC:-on}" >/dev/null \
    || { tail -20 "$PG_DIR/server.log" >&2; die "PostgreSQL did not start (log: $(rel "$PG_DIR")/server.log; another port: AUTODOCTOR_PG_PORT)"; }
}

stop_local_cluster() {
  if local_cluster_running; then
    pg_run "$PG_BIN/pg_ctl" -D "$PG_DIR" -m fast -w stop >/dev/null
    log "local PostgreSQL cluster stopped"
  fi
}

# psql_admin SQL: runs SQL against the server's maintenance database.
psql_admin() {
  psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_DATABASE_URL" -c "$1"
}

# ensure_database NAME [fresh]: creates NAME if missing (drops it first with "fresh")
# and prints its URL.
ensure_database() {
  local name="$1" fresh="${2:-}"
  if [ "$fresh" = fresh ]; then
    psql_admin "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
  fi
  if [ "$(psql -X -tA "$ADMIN_DATABASE_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" != 1 ]; then
    psql_admin "CREATE DATABASE \"$name\"" >/dev/null
  fi
  printf '%s/%s\n' "$SERVER_URL_BASE" "$name"
}

# Sets SERVER_URL_BASE (no database name) and ADMIN_DATABASE_URL.
ensure_postgres() {
  command -v psql >/dev/null || apt_install postgresql-client
  if [ -n "${DATABASE_URL:-}" ]; then
    SERVER_URL_BASE="${DATABASE_URL%/*}"
    ADMIN_DATABASE_URL="$DATABASE_URL"
    USING_LOCAL_CLUSTER=0
  else
    start_local_cluster
    SERVER_URL_BASE="postgres://postgres@$PG_HOST:$PG_PORT"
    ADMIN_DATABASE_URL="$SERVER_URL_BASE/postgres"
    USING_LOCAL_CLUSTER=1
  fi
}

# ------------------------------------------------------------------ build
build_app() {
  log "building the app (cargo leptos build${1:+ $1})"
  cargo leptos build "$@"
  # A .br and a .gz beside each JS, CSS and wasm file, which the server sends as
  # they are (debug builds too: scripts/run's WebAssembly is several megabytes).
  node "$ROOT/scripts/lib/precompress.mjs" "${LEPTOS_SITE_ROOT:-$ROOT/target/site}/pkg"
}

# keep_server_binary: copies the debug server just built (and the hash.txt beside it,
# which names the site's hashed files) into this checkout's target/, and points
# SERVER_BIN there: another checkout sharing CARGO_TARGET_DIR may rebuild the
# shared one while the tests run. Fails when the copy is not this checkout's build.
keep_server_binary() {
  local dir="$ROOT/target/server-bin" js
  mkdir -p "$dir"
  cp "$CARGO_TARGET_DIR/debug/autodoctor" "$dir/autodoctor.tmp" && mv "$dir/autodoctor.tmp" "$dir/autodoctor"
  cp "$CARGO_TARGET_DIR/debug/hash.txt" "$dir/hash.txt"
  js="$(sed -n 's/^js: //p' "$dir/hash.txt")"
  if [ ! -f "$ROOT/target/site/pkg/autodoctor.$js.js" ]; then
    warn "the server in $CARGO_TARGET_DIR/debug was rebuilt by another checkout meanwhile; run again"
    return 1
  fi
  SERVER_BIN="$dir/autodoctor"
}

# ------------------------------------------------------------------ a TURN relay for the call tests
# start_turn_relay LOGFILE: Debian's coturn on loopback, on a free UDP port, with a
# fresh shared secret (the TURN REST scheme the app's credentials use). Exports
# TURN_URLS and TURN_SECRET for the app, and TURN_PID for stop_turn_relay.
# --allow-loopback-peers only because both test browsers are on 127.0.0.1.
start_turn_relay() {
  local logfile="$1" port secret i
  command -v turnserver >/dev/null || apt_install coturn
  port="$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  secret="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
  turnserver --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$port" \
    --min-port=49160 --max-port=49400 \
    --use-auth-secret --static-auth-secret="$secret" --realm=autodoctor \
    --no-tls --no-dtls --allow-loopback-peers --no-cli --log-file=stdout --simple-log \
    --pidfile="$(dirname "$logfile")/turnserver.pid" < /dev/null > "$logfile" 2>&1 &
  TURN_PID=$!
  for i in $(seq 1 50); do
    [ -n "$(ss -Hlun "sport = :$port" 2>/dev/null)" ] && break
    kill -0 "$TURN_PID" 2>/dev/null || { tail -20 "$logfile" >&2; die "coturn did not start (log: $(rel "$logfile"))"; }
    sleep 0.1
  done
  [ -n "$(ss -Hlun "sport = :$port" 2>/dev/null)" ] || die "coturn is not listening on UDP $port (log: $(rel "$logfile"))"
  export TURN_URLS="turn:127.0.0.1:$port?transport=udp" TURN_SECRET="$secret" TURN_PID
}

stop_turn_relay() {
  if [ -n "${TURN_PID:-}" ]; then
    kill "$TURN_PID" 2>/dev/null || true
    wait "$TURN_PID" 2>/dev/null || true
  fi
  TURN_PID=""
}

# ensure_moto: moto's local S3 server (PyPI), for the S3 photo store's database test.
# Best effort: without it that one test says it was skipped, and why.
ensure_moto() {
  export PATH="$HOME/.local/bin:$PATH"
  command -v moto_server >/dev/null && return 0
  log "installing moto (a local S3 for the photo store's test)"
  python3 -m pip install --quiet --user 'moto[server]' >/dev/null 2>&1 \
    || python3 -m pip install --quiet --user --break-system-packages 'moto[server]' >/dev/null 2>&1 \
    || warn "could not install moto: the S3 photo-store test will say it was skipped"
}
