#!/usr/bin/env bash
# A private PostgreSQL cluster for recsearch workers and tests.
#
#   scripts/postgres.sh start [DIR]   install PostgreSQL from Debian's packages when missing, then
#                                     start a cluster owned by a non-root user in DIR (a new temp
#                                     dir by default) on a free loopback port. Prints two lines:
#                                       PGDIR=<dir>
#                                       postgresql+psycopg://recsearch:<password>@127.0.0.1:<port>/recsearch
#   scripts/postgres.sh stop DIR      stop that cluster and remove DIR.
#   scripts/postgres.sh install       only install the packages.
#
# Exit status 3 means PostgreSQL is missing and cannot be installed here (no root, no apt-get).
# Point workers at the printed URL: recsearch worker --study NAME --storage <URL>.
# For several machines, start a real server instead (listen_addresses, pg_hba.conf) and use its URL.
set -euo pipefail

PG_USER="${RECSEARCH_PG_USER:-recsearch-pg}"

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 3
    fi
}

install_pg() {
    if find_bindir >/dev/null; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "PostgreSQL is not installed and apt-get is missing; install PostgreSQL by hand"
        exit 3
    fi
    log "installing PostgreSQL from Debian's packages"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
        || ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2; then
        log "could not install PostgreSQL (need root or passwordless sudo and apt-get)"
        exit 3
    fi
    find_bindir >/dev/null || { log "PostgreSQL installed but no initdb found"; exit 3; }
}

# Run a command as the cluster owner: a dedicated system user when we are root (PostgreSQL
# refuses to run as root), ourselves otherwise.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u "$PG_USER" -- "$@"
    else
        "$@"
    fi
}

ensure_user() {
    if [[ $(id -u) -ne 0 ]]; then
        return 0
    fi
    if ! id "$PG_USER" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    fi
}

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

start() {
    install_pg
    local bindir dir port password pwfile
    bindir=$(find_bindir)
    ensure_user
    dir="${1:-}"
    if [[ -z "$dir" ]]; then
        dir=$(mktemp -d "${TMPDIR:-/tmp}/recsearch-pg.XXXXXX")
    fi
    mkdir -p "$dir"
    chmod 755 "$dir"
    password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
    pwfile="$dir/pwfile"
    printf '%s\n' "$password" >"$pwfile"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R "$PG_USER" "$dir"
    fi
    as_owner "$bindir/initdb" -D "$dir/data" -U recsearch --pwfile="$pwfile" \
        --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$pwfile"
    local tries=0
    while true; do
        port=$(free_port)
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" \
            start >/dev/null 2>&1; then
            break
        fi
        tries=$((tries + 1))
        if [[ $tries -ge 3 ]]; then
            log "server did not start; log follows"
            cat "$dir/server.log" >&2
            exit 1
        fi
    done
    echo "$port" >"$dir/port"
    PGPASSWORD="$password" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U recsearch recsearch
    echo "PGDIR=$dir"
    echo "postgresql+psycopg://recsearch:${password}@127.0.0.1:${port}/recsearch"
}

stop() {
    local dir="${1:?usage: postgres.sh stop DIR}" bindir
    bindir=$(find_bindir) || { rm -rf "$dir"; return 0; }
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    install) install_pg ;;
    *) echo "usage: $0 {start [DIR]|stop DIR|install}" >&2; exit 2 ;;
esac
