#!/bin/sh
# registry-up.sh - start a local OCI Distribution registry (CNCF Distribution
# v2.8, Debian package "docker-registry") on 127.0.0.1 as a plain background
# process (no systemd), for tests and benchmarks.
#
# Usage:
#   registry-up.sh PORT [USER PASSWORD]
#
#   PORT            TCP port on 127.0.0.1 to listen on.
#   USER PASSWORD   optional: require credentials for this single user.
#                   Default mode "basic": HTTP basic auth (htpasswd, bcrypt).
#                   Mode "token" (LOCAL_REGISTRY_AUTH=token): Bearer token auth
#                   as on ghcr.io - the registry answers 401 with
#                   WWW-Authenticate: Bearer realm=...,service=...,scope=...
#                   and registry-token-server.py (next to this script) issues
#                   tokens: USER/PASSWORD via Basic get every requested action,
#                   anonymous clients get "pull" only.
#                   Without USER the registry is anonymous (no auth at all).
#
# Environment:
#   LOCAL_REGISTRY_DIR         state dir (default: a new private one, made with
#                              mktemp in ${TMPDIR:-/tmp} and printed; it must be
#                              ours and not writable by others):
#                              config.yml, storage/, htpasswd, registry.pid,
#                              registry.log, token.key/.crt, token-server.pid/.log
#   LOCAL_REGISTRY_CLEAN=1     wipe LOCAL_REGISTRY_DIR/storage before starting.
#   LOCAL_REGISTRY_AUTH        basic | token (only with USER PASSWORD) [basic]
#   LOCAL_REGISTRY_TOKEN_PORT  token server port [PORT+10000, or PORT-10000 above 55535]
#   LOCAL_REGISTRY_PROXY_URL   run as a pull-through cache of this upstream
#                              registry (e.g. http://127.0.0.1:5000).
#   LOCAL_REGISTRY_PROXY_USER / LOCAL_REGISTRY_PROXY_PASSWORD  upstream credentials.
#   LOCAL_REGISTRY_WAIT        seconds to wait for /v2/ to answer [30].
#
# Output: the registry PID on stdout (nothing else); progress on stderr.
# Exit status 0 once GET /v2/ answers 200 (anonymous) or 401 (auth enabled).
#
# Idempotent: if LOCAL_REGISTRY_DIR/registry.pid names a live docker-registry
# process that answers on PORT, its PID is printed and nothing else happens.
# The registry binary, curl, and (when needed) htpasswd, openssl and python3 must
# be installed ("cargo xtask test-env up" does); a missing one is an error naming it.
#
# Facts about this registry (Distribution 2.8.x):
#   binary: /usr/bin/docker-registry, run as "docker-registry serve CONFIG.yml"
#   htpasswd auth accepts bcrypt entries only (htpasswd -B); the file is read
#   once at startup. Basic auth and tokens travel over plain HTTP here:
#   loopback use only.
#   Token auth (auth.token): the registry checks the JWT signature against the
#   certificates in rootcertbundle (header "kid" = libtrust fingerprint of the
#   key), "iss" against issuer, "aud" against service, and the "access" claim.
#   storage.delete.enabled=true allows DELETE of manifests and blobs by digest
#   (deleting a manifest also drops the tags that point to it; DELETE by tag
#   answers 400 DIGEST_INVALID). A PUT of an index whose children are missing
#   is refused (400 MANIFEST_BLOB_UNKNOWN), but deleting a child afterwards
#   leaves the index pullable: that is how "orphaned index children" are made.
#   Every REGISTRY_<SECTION>_<KEY> environment variable overrides the config
#   file (e.g. REGISTRY_HTTP_ADDR); unknown REGISTRY_* names are logged as
#   ignored. The registry is therefore started with a clean environment
#   (env -i), and this script's own variables use the LOCAL_REGISTRY_ prefix.
#   Proxy mode (pull-through cache): pushes answer 405, manifest deletes are
#   disabled, and /v2/_catalog lists a repository once a manifest of it was
#   pulled through the proxy.
#   The Debian package ships a sample /etc/docker/registry/config.yml and an
#   init script for port 5000; neither is used here.
#
# Stop with: registry-down.sh PORT   (kills the PIDs from the pid files)

set -eu

log() { printf '%s\n' "registry-up: $*" >&2; }
die() { log "error: $*"; exit 1; }

if [ $# -ne 1 ] && [ $# -ne 3 ]; then die "usage: $0 PORT [USER PASSWORD]"; fi
PORT=$1
REG_USER=${2:-}
REG_PASS=${3:-}
case $PORT in
  ''|*[!0-9]*) die "PORT must be a number: $PORT" ;;
esac
if [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then die "PORT out of range: $PORT"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
# The state dir holds the token signing key: never a predictable shared path whose contents someone
# else could have placed. Default: a new private one; a given one must be ours and closed to others.
if [ -n "${LOCAL_REGISTRY_DIR:-}" ]; then
  DIR=$LOCAL_REGISTRY_DIR
  mkdir -p "$DIR"
  [ -O "$DIR" ] && [ ! -L "$DIR" ] || die "LOCAL_REGISTRY_DIR $DIR is not a directory of ours"
  case $(stat -c %A "$DIR") in
    ?????w????|????????w?) die "LOCAL_REGISTRY_DIR $DIR is writable by others" ;;
  esac
else
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/offinfra-registry-$PORT.XXXXXX") || die "cannot make a state dir"
  log "state dir $DIR (stop with: LOCAL_REGISTRY_DIR=$DIR $(dirname "$0")/registry-down.sh $PORT)"
fi
WAIT=${LOCAL_REGISTRY_WAIT:-30}
AUTH=none
if [ -n "$REG_USER" ]; then AUTH=${LOCAL_REGISTRY_AUTH:-basic}; fi
case $AUTH in
  none|basic|token) ;;
  *) die "LOCAL_REGISTRY_AUTH must be basic or token: $AUTH" ;;
esac
if [ "$PORT" -le 55535 ]; then TPORT_DEFAULT=$((PORT + 10000)); else TPORT_DEFAULT=$((PORT - 10000)); fi
TPORT=${LOCAL_REGISTRY_TOKEN_PORT:-$TPORT_DEFAULT}
BIN=/usr/bin/docker-registry
PIDFILE=$DIR/registry.pid
LOGFILE=$DIR/registry.log
CONFIG=$DIR/config.yml
TPIDFILE=$DIR/token-server.pid
URL=http://127.0.0.1:$PORT
SERVICE=local-registry
ISSUER=local-registry-token-issuer
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# --- tools: checked, never installed here ("cargo xtask test-env up" installs them) ---
missing=
[ -x "$BIN" ] || missing="$missing, $BIN (Debian package docker-registry)"
command -v curl >/dev/null 2>&1 || missing="$missing, curl (curl)"
if [ "$AUTH" = basic ]; then
  command -v htpasswd >/dev/null 2>&1 || missing="$missing, htpasswd (apache2-utils)"
fi
if [ "$AUTH" = token ]; then
  command -v openssl >/dev/null 2>&1 || missing="$missing, openssl (openssl)"
  command -v python3 >/dev/null 2>&1 || missing="$missing, python3 (python3)"
  [ -f "$HERE/registry-token-server.py" ] || die "missing $HERE/registry-token-server.py"
fi
[ -z "$missing" ] || die "missing: ${missing#, }; run cargo xtask test-env up, or install them"

# --- helpers ----------------------------------------------------------------
# HTTP status of GET URL ("000" when nothing answers)
http_status() {
  curl -s -o /dev/null --max-time 2 -w '%{http_code}' "$1" 2>/dev/null || true
}
# true when PID $1 is alive and its command line contains $2
is_pid_of() {
  [ -n "${1:-}" ] || return 1
  kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "$2"
}
# wait_ready PID URL OKCODES...: poll URL until its status is one of OKCODES
wait_ready() {
  w_pid=$1 w_url=$2
  shift 2
  w_i=0
  while :; do
    kill -0 "$w_pid" 2>/dev/null || return 2
    w_st=$(http_status "$w_url")
    for w_ok in "$@"; do
      [ "$w_st" = "$w_ok" ] && return 0
    done
    w_i=$((w_i + 1))
    [ "$w_i" -gt $((WAIT * 5)) ] && return 1
    # fractional sleep where supported (GNU, busybox), whole seconds otherwise
    sleep 0.2 2>/dev/null || { sleep 1; w_i=$((w_i + 4)); }
  done
}

# --- already running? ---------------------------------------------------------
if [ -f "$PIDFILE" ]; then
  old=$(cat "$PIDFILE" 2>/dev/null || true)
  if is_pid_of "$old" docker-registry; then
    st=$(http_status "$URL/v2/")
    case $st in
      200|401)
        log "already running: pid $old, $URL (GET /v2/ -> $st), dir $DIR"
        printf '%s\n' "$old"
        exit 0 ;;
      *) die "pid $old is a docker-registry but $URL/v2/ answers '$st'; run registry-down.sh $PORT first" ;;
    esac
  fi
  log "stale pid file $PIDFILE (pid '$old' not running); starting anew"
fi

st=$(http_status "$URL/v2/")
[ "$st" = 000 ] || die "something else already answers on $URL (GET /v2/ -> $st)"

# --- state dir ------------------------------------------------------------------
mkdir -p "$DIR"
if [ "${LOCAL_REGISTRY_CLEAN:-0}" = 1 ]; then
  rm -rf "$DIR/storage"
fi
mkdir -p "$DIR/storage"

# --- token server (token mode) --------------------------------------------------
if [ "$AUTH" = token ]; then
  if [ -f "$TPIDFILE" ] && is_pid_of "$(cat "$TPIDFILE")" registry-token-server; then
    oldt=$(cat "$TPIDFILE")
    log "stopping the previous token server pid $oldt"
    kill "$oldt" 2>/dev/null || true
    n=0
    while kill -0 "$oldt" 2>/dev/null && [ "$n" -lt 25 ]; do
      sleep 0.2 2>/dev/null || sleep 1
      n=$((n + 1))
    done
  fi
  [ "$(http_status "http://127.0.0.1:$TPORT/token")" = 000 ] \
    || die "something already answers on 127.0.0.1:$TPORT (token port)"
  # A key is reused only when it is ours and private; anything else is made anew.
  if [ ! -f "$DIR/token.key" ] || [ ! -O "$DIR/token.key" ] || [ -L "$DIR/token.key" ] \
    || [ "$(stat -c %a "$DIR/token.key")" != 600 ] || [ ! -f "$DIR/token.crt" ]; then
    rm -f "$DIR/token.key" "$DIR/token.crt"
    (umask 077; openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -subj "/CN=$ISSUER" -keyout "$DIR/token.key" -out "$DIR/token.crt" 2>/dev/null) \
      || die "openssl could not create the token signing key"
    chmod 600 "$DIR/token.key"
  fi
  : >"$DIR/token-server.log"
  nohup env -i PATH="$CLEAN_PATH" TOKEN_SERVER_PASSWORD="$REG_PASS" \
    python3 "$HERE/registry-token-server.py" --port "$TPORT" \
      --key "$DIR/token.key" --cert "$DIR/token.crt" \
      --issuer "$ISSUER" --service "$SERVICE" --user "$REG_USER" \
    >>"$DIR/token-server.log" 2>&1 </dev/null &
  tpid=$!
  printf '%s\n' "$tpid" >"$TPIDFILE"
  if ! wait_ready "$tpid" "http://127.0.0.1:$TPORT/token?service=$SERVICE" 200; then
    kill "$tpid" 2>/dev/null || true
    tail -n 20 "$DIR/token-server.log" >&2 || true
    die "token server did not start on 127.0.0.1:$TPORT"
  fi
  log "token server pid $tpid on http://127.0.0.1:$TPORT/token"
fi

# --- config -------------------------------------------------------------------
secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
{
  printf '%s\n' \
    'version: 0.1' \
    'log:' \
    '  level: info' \
    '  fields:' \
    '    service: registry' \
    'storage:' \
    '  filesystem:' \
    "    rootdirectory: $DIR/storage" \
    '  delete:' \
    '    enabled: true' \
    '  maintenance:' \
    '    uploadpurging:' \
    '      enabled: false' \
    'http:' \
    "  addr: 127.0.0.1:$PORT" \
    "  secret: $secret" \
    '  headers:' \
    '    X-Content-Type-Options: [nosniff]' \
    'health:' \
    '  storagedriver:' \
    '    enabled: true' \
    '    interval: 10s' \
    '    threshold: 3'
  case $AUTH in
    basic)
      printf '%s\n' 'auth:' '  htpasswd:' '    realm: local-registry' \
        "    path: $DIR/htpasswd" ;;
    token)
      printf '%s\n' 'auth:' '  token:' \
        "    realm: http://127.0.0.1:$TPORT/token" \
        "    service: $SERVICE" \
        "    issuer: $ISSUER" \
        "    rootcertbundle: $DIR/token.crt" ;;
  esac
  if [ -n "${LOCAL_REGISTRY_PROXY_URL:-}" ]; then
    printf '%s\n' 'proxy:' "  remoteurl: $LOCAL_REGISTRY_PROXY_URL"
    if [ -n "${LOCAL_REGISTRY_PROXY_USER:-}" ]; then
      printf '%s\n' "  username: $LOCAL_REGISTRY_PROXY_USER" \
        "  password: ${LOCAL_REGISTRY_PROXY_PASSWORD:-}"
    fi
  fi
} >"$CONFIG"

if [ "$AUTH" = basic ]; then
  # -B: bcrypt (the only format Distribution accepts), -b: password from argv
  htpasswd -Bbc "$DIR/htpasswd" "$REG_USER" "$REG_PASS" 2>/dev/null \
    || die "htpasswd failed"
else
  rm -f "$DIR/htpasswd"
fi

# --- start the registry -----------------------------------------------------------
: >"$LOGFILE"
nohup env -i PATH="$CLEAN_PATH" "$BIN" serve "$CONFIG" \
  >>"$LOGFILE" 2>&1 </dev/null &
pid=$!
printf '%s\n' "$pid" >"$PIDFILE"
log "started pid $pid, config $CONFIG, log $LOGFILE"

rc=0
wait_ready "$pid" "$URL/v2/" 200 401 || rc=$?
if [ "$rc" -ne 0 ]; then
  if [ "$rc" -eq 2 ]; then
    log "registry exited during startup; last log lines:"
  else
    log "no answer from $URL/v2/ after ${WAIT}s; stopping pid $pid"
    kill "$pid" 2>/dev/null || true
  fi
  tail -n 20 "$LOGFILE" >&2 || true
  if [ -f "$TPIDFILE" ] && is_pid_of "$(cat "$TPIDFILE")" registry-token-server; then
    kill "$(cat "$TPIDFILE")" 2>/dev/null || true
  fi
  exit 1
fi

case $AUTH in
  none) desc="anonymous" ;;
  basic) desc="basic auth, user $REG_USER" ;;
  token) desc="bearer token auth via http://127.0.0.1:$TPORT/token, user $REG_USER" ;;
esac
[ -n "${LOCAL_REGISTRY_PROXY_URL:-}" ] && desc="$desc, pull-through cache of $LOCAL_REGISTRY_PROXY_URL"
log "ready: $URL (GET /v2/ -> $(http_status "$URL/v2/"); $desc), storage $DIR/storage"
printf '%s\n' "$pid"
