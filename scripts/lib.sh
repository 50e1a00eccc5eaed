# shellcheck shell=bash
# Shared helpers for the Inward scripts. Source it, do not run it:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Provides:
#   ensure_cargo          put ~/.cargo/bin on PATH; exit 1 if no Rust toolchain
#   ensure_database NAME  make sure a PostgreSQL database NAME exists and export
#                         DATABASE_URL pointing at it (see the function comment)
#   database_url_as ROLE  DATABASE_URL with its user replaced by ROLE (no password)
#   setup_roles BIN       run `BIN db setup-roles` on DATABASE_URL and export
#                         INWARD_OWNER_URL and INWARD_RUNTIME_URL for its two roles
#   apt_install PKG...    install Debian packages (as root or via sudo), without the
#                         packages they merely recommend
#   ensure_commands CMD:PKG...  install PKG where the command CMD is missing
#
# Database names (override in the environment):
#   INWARD_DEMO_DB   the demo's database (scripts/demo, scripts/inward), default `inward`
#   INWARD_TEST_DB   the database the tests create their own databases from, default
#                    `inward_test`; each test creates and drops `inward_test_<random>`
#
# Everything here is safe under `set -euo pipefail` and idempotent.

# Repository root: the parent of the directory holding this file.
INWARD_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export INWARD_REPO

# Private cluster settings (used only when nothing usable answers on 5432).
INWARD_PGROOT="$INWARD_REPO/.pgdata"
INWARD_PGDATA="$INWARD_PGROOT/data"
INWARD_PGLOG="$INWARD_PGROOT/log"
INWARD_PGPORT=5433

INWARD_DEMO_DB="${INWARD_DEMO_DB:-inward}"
INWARD_TEST_DB="${INWARD_TEST_DB:-inward_test}"

_INWARD_APT_UPDATED=0

# INWARD_QUIET=1 keeps the progress messages (not the errors) to itself.
msg() { [ -n "${INWARD_QUIET:-}" ] || printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (not root and sudo is not available)"
  fi
}

# Install Debian packages with apt-get (runs `apt-get update` once per process).
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; please install: $*"
  if [ "$_INWARD_APT_UPDATED" -eq 0 ]; then
    msg "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    _INWARD_APT_UPDATED=1
  fi
  msg "apt-get install --no-install-recommends $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

ensure_commands() {
  local pair missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
}

ensure_cargo() {
  if [ -d "$HOME/.cargo/bin" ]; then
    case ":$PATH:" in
      *":$HOME/.cargo/bin:"*) ;;
      *) PATH="$HOME/.cargo/bin:$PATH"; export PATH ;;
    esac
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    cat >&2 <<'EOF'
error: `cargo` was not found.
Inward needs a Rust toolchain (stable, version 1.89 or newer). Install it with rustup:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y
then open a new shell (or run `. "$HOME/.cargo/env"`) and try again.
EOF
    exit 1
  fi
  # Soft version check: rustc X.Y.Z; complain only if we can parse it and it is too old.
  local ver major minor
  ver="$(rustc --version 2>/dev/null | awk '{print $2}')" || ver=""
  major="${ver%%.*}"
  minor="${ver#*.}"; minor="${minor%%.*}"
  if [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]]; then
    if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 89 ]; }; then
      die "Rust $ver is too old; Inward needs stable >= 1.89 (try: rustup update stable)"
    fi
  fi
}

# Check that `pg_isready` exists, installing postgresql-client if not.
_ensure_pg_client() {
  if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
    apt_install postgresql-client
  fi
}

# psql against host 127.0.0.1, user postgres, database postgres; never prompts.
_psql() {
  local port="$1"; shift
  PGCONNECT_TIMEOUT=5 psql -X -w -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

# Create database $2 on port $1 unless it exists.
_create_db() {
  local port="$1" name="$2" found
  found="$(_psql "$port" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")"
  if [ "$found" != "1" ]; then
    msg "creating database $name on port $port"
    _psql "$port" -tAc "CREATE DATABASE \"$name\"" >/dev/null
  fi
}

# Directory holding initdb/pg_ctl (newest installed major version), or empty.
_pg_bindir() {
  local d best="" bestver=0 ver
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] || continue
    ver="$(basename "$(dirname "$d")")"
    [[ "$ver" =~ ^[0-9]+$ ]] || continue
    if [ "$ver" -gt "$bestver" ]; then
      best="$d"; bestver="$ver"
    fi
  done
  printf '%s' "$best"
}

# OS user who owns (or will own) the private cluster.
_pg_owner() {
  if [ -e "$INWARD_PGDATA" ]; then
    stat -c %U "$INWARD_PGDATA"
  elif [ "$(id -u)" -eq 0 ]; then
    printf 'postgres'
  else
    id -un
  fi
}

# Run a command as the cluster owner (initdb and postgres refuse to run as root).
_as_pg_owner() {
  local owner
  owner="$(_pg_owner)"
  if [ "$owner" = "$(id -un)" ]; then
    "$@"
  elif [ "$(id -u)" -eq 0 ]; then
    runuser -u "$owner" -- "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -u "$owner" -- "$@"
  else
    die "the private cluster in $INWARD_PGDATA belongs to $owner; need root or sudo"
  fi
}

# Make every ancestor of $1 traversable (o+x) so the postgres user can reach it.
_make_traversable() {
  local dir="$1"
  while [ "$dir" != "/" ] && [ -n "$dir" ]; do
    if [ -d "$dir" ] && ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
      msg "making $dir traversable for the postgres user (chmod o+x)"
      chmod o+x "$dir"
    fi
    dir="$(dirname "$dir")"
  done
}

# Create (first time) and start (if stopped) the private cluster on port 5433.
_ensure_private_cluster() {
  local bindir owner i
  bindir="$(_pg_bindir)"
  if [ -z "$bindir" ]; then
    msg "PostgreSQL server not installed; installing it"
    apt_install postgresql
    bindir="$(_pg_bindir)"
    [ -n "$bindir" ] || die "installed postgresql but found no initdb under /usr/lib/postgresql/*/bin"
  fi

  if [ ! -s "$INWARD_PGDATA/PG_VERSION" ]; then
    msg "creating private PostgreSQL cluster in $INWARD_PGDATA (port $INWARD_PGPORT)"
    owner="$(_pg_owner)"
    if [ "$(id -u)" -eq 0 ]; then
      id postgres >/dev/null 2>&1 || die "OS user 'postgres' does not exist (is the postgresql package installed?)"
      mkdir -p "$INWARD_PGROOT"
      _make_traversable "$INWARD_REPO"
      chown "$owner:" "$INWARD_PGROOT"
    else
      mkdir -p "$INWARD_PGROOT"
    fi
    chmod 700 "$INWARD_PGROOT"
    _as_pg_owner "$bindir/initdb" -D "$INWARD_PGDATA" -U postgres --auth=trust \
      --encoding=UTF8 --locale=C >"$INWARD_PGROOT/initdb.out" 2>&1 \
      || { cat "$INWARD_PGROOT/initdb.out" >&2; die "initdb failed"; }
    printf '%s\n' \
      "# Inward private cluster" \
      "listen_addresses = '127.0.0.1'" \
      "port = $INWARD_PGPORT" \
      "unix_socket_directories = '/tmp'" \
      "fsync = off" \
      | _as_pg_owner tee -a "$INWARD_PGDATA/postgresql.conf" >/dev/null
  fi

  if ! _as_pg_owner "$bindir/pg_ctl" -D "$INWARD_PGDATA" status >/dev/null 2>&1; then
    msg "starting private PostgreSQL cluster (log: $INWARD_PGLOG)"
    if ! _as_pg_owner "$bindir/pg_ctl" -D "$INWARD_PGDATA" -l "$INWARD_PGLOG" -w -t 60 start >/dev/null; then
      _as_pg_owner tail -n 30 "$INWARD_PGLOG" >&2 || true
      die "could not start the private PostgreSQL cluster"
    fi
  fi

  for i in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$INWARD_PGPORT" -t 2 && return 0
    [ "$i" -eq 1 ] && msg "waiting for PostgreSQL on port $INWARD_PGPORT"
    sleep 1
  done
  die "PostgreSQL on 127.0.0.1:$INWARD_PGPORT did not become ready (see $INWARD_PGLOG)"
}

# ensure_database NAME
#   1. DATABASE_URL already set: use it unchanged.
#   2. A server on 127.0.0.1:5432 that lets user postgres in without a password:
#      create NAME there if needed; DATABASE_URL=postgres://postgres@127.0.0.1:5432/NAME.
#   3. Otherwise a private cluster in $REPO/.pgdata on 127.0.0.1:5433 (installed,
#      created and started as needed); DATABASE_URL=postgres://postgres@127.0.0.1:5433/NAME.
ensure_database() {
  local name="${1:-}"
  [ -n "$name" ] || die "usage: ensure_database NAME"
  [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "invalid database name: $name"

  if [ -n "${DATABASE_URL:-}" ]; then
    export DATABASE_URL
    msg "DATABASE_URL=$DATABASE_URL (from the environment)"
    return 0
  fi

  _ensure_pg_client

  if pg_isready -q -h 127.0.0.1 -p 5432 -t 3; then
    if _psql 5432 -tAc 'SELECT 1' >/dev/null 2>&1; then
      _create_db 5432 "$name"
      DATABASE_URL="postgres://postgres@127.0.0.1:5432/$name"
      export DATABASE_URL
      msg "DATABASE_URL=$DATABASE_URL"
      return 0
    fi
    msg "PostgreSQL answers on 127.0.0.1:5432 but user postgres cannot log in without a password;"
    msg "using a private cluster instead (or set DATABASE_URL yourself)"
  else
    msg "nothing answers on 127.0.0.1:5432; using a private cluster"
  fi

  _ensure_private_cluster
  _create_db "$INWARD_PGPORT" "$name"
  DATABASE_URL="postgres://postgres@127.0.0.1:$INWARD_PGPORT/$name"
  export DATABASE_URL
  msg "DATABASE_URL=$DATABASE_URL"
}

# database_url_for NAME: DATABASE_URL (set by ensure_database) with its database name
# replaced by NAME, to reach another database on the same server.
database_url_for() {
  local base="${DATABASE_URL%%\?*}"
  printf '%s/%s' "${base%/*}" "$1"
}

# database_url_as ROLE: DATABASE_URL signed in as ROLE instead, without a password (the
# roles `inward db setup-roles` creates sign in as the server's local rules allow: trust on
# the clusters these scripts use).
database_url_as() {
  local scheme="${DATABASE_URL%%://*}" rest="${DATABASE_URL#*://}"
  case "$rest" in *@*) rest="${rest#*@}" ;; esac
  printf '%s://%s@%s' "$scheme" "$1" "$rest"
}

# setup_roles BIN: the owner and runtime roles on DATABASE_URL's database (which must name
# a superuser), then INWARD_OWNER_URL (for `inward migrate`) and INWARD_RUNTIME_URL (for
# everything else).
setup_roles() {
  "$1" db setup-roles >/dev/null
  INWARD_OWNER_URL="$(database_url_as inward_owner)"
  INWARD_RUNTIME_URL="$(database_url_as inward_runtime)"
  export INWARD_OWNER_URL INWARD_RUNTIME_URL
}
