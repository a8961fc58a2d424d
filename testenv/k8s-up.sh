#!/bin/sh
# k8s-up.sh - run a real Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager; Kubernetes 1.20.2) on 127.0.0.1 as plain background
# processes (no systemd, no containers), for tests.
#
# Usage:
#   k8s-up.sh [DIR]
#
#   DIR   state dir (created if missing). Default: a fresh temp dir
#         ${TMPDIR:-/tmp}/offinfra-k8s.XXXXXX.
#
# Output (stdout, last lines, shell-sourceable):
#   OFFINFRA_K8S_DIR=DIR
#   OFFINFRA_K8S_SERVER=https://127.0.0.1:PORT
#   KUBECONFIG=DIR/kubeconfig
#   ETCD_PID=N
#   KUBE_APISERVER_PID=N
#   KUBE_CONTROLLER_MANAGER_PID=N
# Progress goes to stderr. Exit status 0 once /readyz answers "ok", the
# default namespace exists and its "default" ServiceAccount has a token secret.
# On failure every process this run started is stopped (by PID) and the tail
# of the failing log is shown.
# If DIR already holds a running control plane (live PIDs, /readyz ok), its
# lines are printed again and nothing is started.
#
# Stop with: k8s-down.sh DIR
#
# Environment:
#   OFFINFRA_K8S_CACHE      dir holding the binaries built by k8s-build.sh
#                           [/var/cache/offinfra-k8s/1.20.2/bin]
#   OFFINFRA_K8S_PORT       apiserver secure port [a free port, 10000-32767]
#   OFFINFRA_K8S_TOKEN      admin bearer token [random, 48 hex digits]
#   OFFINFRA_K8S_AUTHZ      --authorization-mode: RBAC or AlwaysAllow [RBAC]
#   OFFINFRA_K8S_CONTROLLERS  --controllers for kube-controller-manager
#                           [*,-nodelifecycle]
#   OFFINFRA_K8S_APISERVER_ARGS / OFFINFRA_K8S_KCM_ARGS  extra flags, appended
#                           (word-split; no quoting inside).
#   OFFINFRA_K8S_WAIT       seconds to wait for each component [90]
#
# What it does:
# 1. Checks its tools (etcd from etcd-server, openssl, curl) and the binaries
#    that k8s-build.sh built into OFFINFRA_K8S_CACHE; a missing one is an
#    error naming it ("cargo xtask test-env up" installs and builds them).
#    Nothing is installed here.
# 2. Generates under DIR/pki: a CA (ca.crt, ca.key), a serving cert for
#    127.0.0.1, localhost, 10.0.0.1 and kubernetes.default.svc signed by it
#    (apiserver.crt/.key), and the service-account key pair (sa.key, sa.pub).
#    DIR/tokens.csv holds two static tokens:
#      admin token (DIR/token)       user "offinfra-admin", group system:masters
#      user token  (DIR/user-token)  user "offinfra-user", no RBAC bindings
#                                    (everything but discovery answers 403)
# 3. Starts, each with a log and a PID file in DIR:
#      etcd                     client and peer URLs on free 127.0.0.1 ports,
#                               data in DIR/etcd-data
#      kube-apiserver           127.0.0.1:PORT only (HTTPS; no insecure port),
#                               --token-auth-file, --client-ca-file=ca.crt,
#                               --authorization-mode=RBAC, admission plugins
#                               NamespaceLifecycle and ServiceAccount only,
#                               --endpoint-reconciler-type=none (the
#                               "kubernetes" Service has no endpoints: an
#                               Endpoints address may not be loopback),
#                               service IP range 10.0.0.0/24
#      kube-controller-manager  kubeconfig with the admin token,
#                               --use-service-account-credentials=false,
#                               --leader-elect=false, all default controllers
#                               except nodelifecycle; /healthz on a free
#                               127.0.0.1 port (self-signed, in memory)
# 4. Writes DIR/kubeconfig (context "offinfra", namespace default,
#    certificate-authority-data = ca.crt, admin token) and DIR/k8s.env
#    (OFFINFRA_K8S_* variables: SERVER, PORT, TOKEN, USER_TOKEN, CA, ETCD,
#    KCM_PORT, and KUBECONFIG).
#
# Facts about this control plane:
#   Startup with cached binaries takes about 5 s (etcd < 1 s, kube-apiserver
#   /readyz about 3 s, kube-controller-manager and the default ServiceAccount
#   token about 2 s); k8s-down.sh takes about 3 s. RSS: kube-apiserver about
#   330 MB, kube-controller-manager about 90 MB, etcd about 50 MB.
#   Server version v1.20.2 (kubectl 1.32 works; it prints a version-skew
#   warning). kube-rs 5 with rustls verifies the serving cert against
#   certificate-authority-data (IP SAN 127.0.0.1).
#   Anonymous requests are allowed by authentication and get 403 from RBAC
#   except for /version, /healthz, /readyz, /livez; the user token can read
#   discovery (/api, /apis) and nothing else.
#   There is no scheduler and no kubelet: pods are created by the controllers
#   but stay Pending until a test binds them and writes their status (below).
#   A pod without spec.nodeName is deleted at once when deleted (grace period
#   0); a bound pod stays Terminating until someone force-deletes it.
#   nodelifecycle is disabled because a fake Node never heartbeats: that
#   controller would mark it Unknown after 40 s, set its pods' Ready
#   condition to False and taint (evict) them.
#   podgc is enabled: it force-deletes pods bound to a Node that does not
#   exist about 60 s after binding (40 s quarantine, 20 s period) - bind
#   pods to a Node object that exists.
#   ServiceAccount admission is on. A Pod created in a namespace within
#   milliseconds of creating the namespace can be refused: 500 "No API token
#   found for service account "default", retry after the token is
#   automatically created and added to the service account" (or 403 "error
#   looking up service account" while the account itself is missing). The
#   controllers retry on their own; a test that creates Pods directly in a new
#   namespace should wait until serviceaccount/default has .secrets.
#   Controllers that start and matter for tests: deployment, replicaset,
#   statefulset, daemonset (creates one pod per Node object), job, cronjob,
#   garbagecollector (cascading deletes), namespace (namespace deletion),
#   serviceaccount, serviceaccount-token, endpoint, endpointslice, podgc,
#   disruption, resourcequota. "service" and "cloud-node-lifecycle" log
#   "no cloud provider" at startup and stay off.
#   Clients may also authenticate with a client certificate signed by
#   DIR/pki/ca.key (CN = user name, O = group).
#
# Acting as the scheduler and kubelet (a Deployment rollout then completes
# through the real deployment and replicaset controllers; the same works for
# StatefulSets and DaemonSets):
#   export KUBECONFIG=DIR/kubeconfig
#   1. Once: a fake Node and its status.
#      kubectl create -f - <<'EOF'
#      apiVersion: v1
#      kind: Node
#      metadata: {name: fake-node, labels: {kubernetes.io/hostname: fake-node}}
#      EOF
#      kubectl patch node fake-node --subresource=status --type=merge -p \
#        '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"fake"}],
#          "capacity":{"cpu":"8","memory":"32Gi","pods":"110"},
#          "allocatable":{"cpu":"8","memory":"32Gi","pods":"110"}}}'
#   2. For each Pending pod (no spec.nodeName), bind it as the scheduler does:
#      kubectl create --raw /api/v1/namespaces/NS/pods/POD/binding -f - <<'EOF'
#      {"apiVersion":"v1","kind":"Binding","metadata":{"name":"POD"},
#       "target":{"apiVersion":"v1","kind":"Node","name":"fake-node"}}
#      EOF
#      (answers {"kind":"Status",...,"code":201}; a second binding of the
#      same pod answers 409 Conflict "already assigned to node").
#   3. Mark it Running and Ready as the kubelet does:
#      kubectl patch pod POD -n NS --subresource=status --type=merge -p \
#        '{"status":{"phase":"Running","hostIP":"127.0.0.1","podIP":"10.244.0.10",
#          "podIPs":[{"ip":"10.244.0.10"}],"startTime":"NOW",
#          "conditions":[{"type":"PodScheduled","status":"True"},
#                        {"type":"Initialized","status":"True"},
#                        {"type":"ContainersReady","status":"True"},
#                        {"type":"Ready","status":"True","lastTransitionTime":"NOW"}],
#          "containerStatuses":[{"name":"CONTAINER","ready":true,"started":true,
#            "restartCount":0,"image":"IMAGE","imageID":"IMAGE",
#            "containerID":"containerd://POD-CONTAINER",
#            "state":{"running":{"startedAt":"NOW"}}}]}}'
#      NOW = date -u +%Y-%m-%dT%H:%M:%SZ. What the replicaset controller
#      counts is the Ready condition only: with minReadySeconds 0 (the
#      default) {"phase":"Running","conditions":[{"type":"Ready",
#      "status":"True"}]} is enough for the rollout to complete. The
#      apiserver does not fill in lastTransitionTime; with minReadySeconds > 0
#      a pod is available only once Ready's lastTransitionTime is set and
#      older than minReadySeconds. containerStatuses make "kubectl get pods"
#      show READY 1/1; podIP makes the endpoint controllers list the pod
#      behind a Service; use a distinct podIP per pod.
#   4. Old pods removed by a rollout keep a deletionTimestamp ("Terminating")
#      if they were bound; to finish that as the kubelet does:
#      kubectl delete pod POD -n NS --grace-period=0 --force
#      This is not needed for "kubectl rollout status": terminating pods no
#      longer count in ReplicaSet .status.replicas.
#   A rolling update of a 2-replica Deployment (maxSurge 25% -> 1,
#   maxUnavailable 25% -> 0) creates the new pods one at a time, so steps
#   2-3 are repeated (poll every 0.5 s) until "kubectl rollout status"
#   returns; offinfra_test_support::cluster::Kubelet does this in a loop (a
#   2-replica update completes in 1-2 s).
#   The same with curl: -H "Authorization: Bearer $(cat DIR/token)"
#   --cacert DIR/pki/ca.crt; binding = POST .../pods/POD/binding with
#   Content-Type: application/json; status = PATCH .../pods/POD/status with
#   Content-Type: application/merge-patch+json (kube-rs:
#   Api::<Pod>::patch_status with Patch::Merge, and
#   Api::<Pod>::create_subresource("binding", ..)).

set -eu

VERSION=1.20.2
log() { printf '%s\n' "k8s-up: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -le 1 ] || die "usage: $0 [DIR]"

BINDIR=${OFFINFRA_K8S_CACHE:-/var/cache/offinfra-k8s/$VERSION/bin}
WAIT=${OFFINFRA_K8S_WAIT:-90}
AUTHZ=${OFFINFRA_K8S_AUTHZ:-RBAC}
CONTROLLERS=${OFFINFRA_K8S_CONTROLLERS:-*,-nodelifecycle}
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
case $AUTHZ in RBAC|AlwaysAllow) ;; *) die "OFFINFRA_K8S_AUTHZ must be RBAC or AlwaysAllow: $AUTHZ" ;; esac
case $WAIT in ''|*[!0-9]*) die "OFFINFRA_K8S_WAIT must be a number: $WAIT" ;; esac

# --- cleanup on exit: half-started processes -------------------------------------
ok=0
STARTED=
on_exit() {
  rc=$?
  if [ "$ok" != 1 ] && [ -n "$STARTED" ]; then
    for p in $STARTED; do
      kill "$p" 2>/dev/null || true
    done
    log "stopped pids $STARTED"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- tools and binaries: checked, never installed here --------------------------------
have() { command -v "$1" >/dev/null 2>&1; }
missing=
have etcd || missing="$missing etcd (Debian package etcd-server)"
have openssl || missing="$missing, openssl (openssl)"
have curl || missing="$missing, curl (curl)"
[ -z "$missing" ] || die "missing:${missing#,}; run cargo xtask test-env up, or install them"
binaries_ok() {
  [ -x "$BINDIR/kube-apiserver" ] && [ -x "$BINDIR/kube-controller-manager" ] \
    && "$BINDIR/kube-apiserver" --version >/dev/null 2>&1 \
    && "$BINDIR/kube-controller-manager" --version >/dev/null 2>&1
}
# The binaries run with this user's rights (root under xtask): they, and every directory above them,
# must belong to root or to us and be writable by nobody else, or whoever could write there runs as us.
trusted() {
  p=$1
  while [ -n "$p" ] && [ "$p" != / ]; do
    [ -e "$p" ] || return 0
    owner=$(stat -L -c %u "$p")
    [ "$owner" = 0 ] || [ "$owner" = "$(id -u)" ] || { log "$p belongs to uid $owner"; return 1; }
    case $(stat -L -c %A "$p") in
      ?????w????|????????w?) [ -k "$p" ] && [ -d "$p" ] && [ "$p" != "$1" ] || { log "$p is writable by others"; return 1; } ;;
    esac
    p=$(dirname "$p")
  done
}
for b in kube-apiserver kube-controller-manager; do
  trusted "$BINDIR/$b" || die "$BINDIR/$b is not safe to run: fix its owner and mode, or build it again"
done
binaries_ok || die "no kube-apiserver and kube-controller-manager in $BINDIR; build them once with cargo xtask test-env up (or, as root, $(dirname "$0")/k8s-build.sh)"
log "binaries: $BINDIR ($("$BINDIR/kube-apiserver" --version))"


# --- helpers ----------------------------------------------------------------------
# true when PID $1 is alive and its command line contains $2
is_pid_of() {
  [ -n "${1:-}" ] || return 1
  kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/cmdline" ] || return 0
  tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$2"
}
# true when a TCP socket (any state, IPv4 or IPv6) uses local port $1
port_in_use() {
  ph=$(printf '%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null \
    | awk -v p="$ph" '{ n = split($2, a, ":"); if (a[n] == p) f = 1 } END { exit !f }'
}
# free_port: set FP to a free port below the kernel's ephemeral range (so
# outgoing connections do not take it), not one in $TAKEN
TAKEN=
FP=
free_port() {
  lo=10000
  hi=$(awk '{ print $1 - 1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)
  [ "$hi" -gt "$lo" ] || hi=32767
  fp_i=0
  while [ "$fp_i" -lt 200 ]; do
    r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    fp=$((lo + r % (hi - lo + 1)))
    case " $TAKEN " in *" $fp "*) fp_i=$((fp_i + 1)); continue ;; esac
    if ! port_in_use "$fp"; then
      TAKEN="$TAKEN $fp"
      FP=$fp
      return 0
    fi
    fp_i=$((fp_i + 1))
  done
  die "no free port found in $lo-$hi"
}
# HTTP body of GET URL with the admin token, "" when nothing answers
api_get() {
  curl -s --max-time 3 --cacert "$DIR/pki/ca.crt" \
    -H "Authorization: Bearer $TOKEN" "$SERVER$1" 2>/dev/null || true
}
# wait_for DESC PID COMMAND...: run COMMAND every 0.2 s until it succeeds
wait_for() {
  wf_desc=$1 wf_pid=$2
  shift 2
  wf_i=0
  while :; do
    if [ -n "$wf_pid" ] && ! kill -0 "$wf_pid" 2>/dev/null; then
      log "$wf_desc: process $wf_pid exited"
      return 2
    fi
    "$@" && return 0
    wf_i=$((wf_i + 1))
    if [ "$wf_i" -gt $((WAIT * 5)) ]; then
      log "$wf_desc: no success after ${WAIT}s"
      return 1
    fi
    sleep 0.2 2>/dev/null || { sleep 1; wf_i=$((wf_i + 4)); }
  done
}
show_log() { log "last lines of $1:"; tail -n 25 "$1" >&2 || true; }
print_result() {
  printf '%s\n' \
    "OFFINFRA_K8S_DIR=$DIR" \
    "OFFINFRA_K8S_SERVER=$SERVER" \
    "KUBECONFIG=$DIR/kubeconfig" \
    "ETCD_PID=$(cat "$DIR/etcd.pid")" \
    "KUBE_APISERVER_PID=$(cat "$DIR/kube-apiserver.pid")" \
    "KUBE_CONTROLLER_MANAGER_PID=$(cat "$DIR/kube-controller-manager.pid")"
}

# --- state dir ----------------------------------------------------------------------
if [ $# -eq 1 ]; then
  DIR=$1
  mkdir -p "$DIR"
else
  DIR=$(mktemp -d "${TMPDIR:-/tmp}/offinfra-k8s.XXXXXX")
fi
DIR=$(cd "$DIR" && pwd)

# already running in DIR?
if [ -f "$DIR/k8s.env" ] && [ -f "$DIR/kube-apiserver.pid" ]; then
  old_api=$(cat "$DIR/kube-apiserver.pid" 2>/dev/null || true)
  if is_pid_of "$old_api" kube-apiserver \
     && is_pid_of "$(cat "$DIR/etcd.pid" 2>/dev/null || true)" etcd \
     && is_pid_of "$(cat "$DIR/kube-controller-manager.pid" 2>/dev/null || true)" kube-controller-manager; then
    SERVER=$(sed -n 's/^OFFINFRA_K8S_SERVER=//p' "$DIR/k8s.env")
    TOKEN=$(cat "$DIR/token")
    if [ "$(api_get /readyz)" = ok ]; then
      log "already running in $DIR ($SERVER)"
      ok=1
      print_result
      exit 0
    fi
  fi
fi
for f in etcd kube-apiserver kube-controller-manager; do
  if [ -f "$DIR/$f.pid" ] && is_pid_of "$(cat "$DIR/$f.pid")" "$f"; then
    die "$f (pid $(cat "$DIR/$f.pid")) from an earlier run still runs; run k8s-down.sh $DIR first"
  fi
done
rm -rf "$DIR/etcd-data" "$DIR/pki"
rm -f "$DIR"/*.pid "$DIR"/*.log "$DIR/kubeconfig" "$DIR/k8s.env" "$DIR/tokens.csv" \
  "$DIR/token" "$DIR/user-token"
free_port; ETCD_PORT=$FP
free_port; ETCD_PEER_PORT=$FP
if [ -n "${OFFINFRA_K8S_PORT:-}" ]; then
  API_PORT=$OFFINFRA_K8S_PORT
  case $API_PORT in ''|*[!0-9]*) die "OFFINFRA_K8S_PORT must be a number: $API_PORT" ;; esac
  port_in_use "$API_PORT" && die "OFFINFRA_K8S_PORT $API_PORT is in use"
  TAKEN="$TAKEN $API_PORT"
else
  free_port; API_PORT=$FP
fi
free_port; KCM_PORT=$FP
SERVER=https://127.0.0.1:$API_PORT
ETCD_URL=http://127.0.0.1:$ETCD_PORT
mkdir -p "$DIR/pki"
chmod 700 "$DIR"

# --- keys, certificates, tokens --------------------------------------------------------
P=$DIR/pki
cat >"$P/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = offinfra-k8s
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[ v3_server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @alt
[ alt ]
IP.1 = 127.0.0.1
IP.2 = 10.0.0.1
DNS.1 = localhost
DNS.2 = kubernetes
DNS.3 = kubernetes.default
DNS.4 = kubernetes.default.svc
DNS.5 = kubernetes.default.svc.cluster.local
EOF
ossl() { openssl "$@" >>"$P/openssl.log" 2>&1 || { tail -n 20 "$P/openssl.log" >&2; die "openssl $1 failed"; }; }
ossl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 -config "$P/openssl.cnf" \
  -extensions v3_ca -subj "/CN=offinfra-k8s-ca" -keyout "$P/ca.key" -out "$P/ca.crt"
ossl req -new -nodes -newkey rsa:2048 -config "$P/openssl.cnf" \
  -subj "/CN=kube-apiserver" -keyout "$P/apiserver.key" -out "$P/apiserver.csr"
ossl x509 -req -in "$P/apiserver.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" \
  -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -sha256 -days 3650 \
  -extfile "$P/openssl.cnf" -extensions v3_server -out "$P/apiserver.crt"
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$P/sa.key"
ossl pkey -in "$P/sa.key" -pubout -out "$P/sa.pub"
rm -f "$P/apiserver.csr"

TOKEN=${OFFINFRA_K8S_TOKEN:-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')}
USER_TOKEN=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
case $TOKEN in *[,\"[:space:]]*|'') die "OFFINFRA_K8S_TOKEN must not be empty or contain commas, quotes or spaces" ;; esac
printf '%s\n' "$TOKEN" >"$DIR/token"
printf '%s\n' "$USER_TOKEN" >"$DIR/user-token"
{
  printf '%s,offinfra-admin,offinfra-admin,"system:masters"\n' "$TOKEN"
  printf '%s,offinfra-user,offinfra-user\n' "$USER_TOKEN"
} >"$DIR/tokens.csv"
chmod 600 "$DIR/token" "$DIR/user-token" "$DIR/tokens.csv" "$P"/*.key

CA_DATA=$(base64 <"$P/ca.crt" | tr -d '\n')
cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: offinfra
  cluster:
    server: $SERVER
    certificate-authority-data: $CA_DATA
users:
- name: offinfra-admin
  user:
    token: $TOKEN
contexts:
- name: offinfra
  context:
    cluster: offinfra
    user: offinfra-admin
    namespace: default
current-context: offinfra
EOF
chmod 600 "$DIR/kubeconfig"
cat >"$DIR/k8s.env" <<EOF
OFFINFRA_K8S_DIR=$DIR
OFFINFRA_K8S_SERVER=$SERVER
OFFINFRA_K8S_PORT=$API_PORT
OFFINFRA_K8S_TOKEN=$TOKEN
OFFINFRA_K8S_USER_TOKEN=$USER_TOKEN
OFFINFRA_K8S_CA=$P/ca.crt
OFFINFRA_K8S_ETCD=$ETCD_URL
OFFINFRA_K8S_KCM_PORT=$KCM_PORT
KUBECONFIG=$DIR/kubeconfig
EOF
chmod 600 "$DIR/k8s.env"

# --- etcd ---------------------------------------------------------------------------------
t_start=$(date +%s)
nohup env -i PATH="$CLEAN_PATH" etcd \
  --name offinfra-k8s \
  --data-dir "$DIR/etcd-data" \
  --listen-client-urls "$ETCD_URL" \
  --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "offinfra-k8s=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state new \
  --initial-cluster-token "offinfra-k8s-$$" \
  --logger zap --log-outputs stderr --log-level warn \
  >"$DIR/etcd.log" 2>&1 </dev/null &
ETCD_PID=$!
STARTED="$ETCD_PID"
printf '%s\n' "$ETCD_PID" >"$DIR/etcd.pid"
etcd_ok() { curl -s --max-time 2 "$ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'; }
wait_for "etcd at $ETCD_URL" "$ETCD_PID" etcd_ok || { show_log "$DIR/etcd.log"; exit 1; }
log "etcd pid $ETCD_PID ready at $ETCD_URL (peer port $ETCD_PEER_PORT)"

# --- kube-apiserver ---------------------------------------------------------------------------
# admission: defaults of 1.20 minus everything but NamespaceLifecycle and ServiceAccount
DISABLED_ADMISSION=LimitRanger,TaintNodesByCondition,Priority,DefaultTolerationSeconds,DefaultStorageClass,StorageObjectInUseProtection,PersistentVolumeClaimResize,RuntimeClass,CertificateApproval,CertificateSigning,CertificateSubjectRestriction,DefaultIngressClass,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota
# shellcheck disable=SC2086
nohup env -i PATH="$CLEAN_PATH" "$BINDIR/kube-apiserver" \
  --advertise-address=127.0.0.1 \
  --bind-address=127.0.0.1 \
  --secure-port="$API_PORT" \
  --insecure-port=0 \
  --etcd-servers="$ETCD_URL" \
  --tls-cert-file="$P/apiserver.crt" \
  --tls-private-key-file="$P/apiserver.key" \
  --client-ca-file="$P/ca.crt" \
  --token-auth-file="$DIR/tokens.csv" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$P/sa.pub" \
  --service-account-signing-key-file="$P/sa.key" \
  --service-cluster-ip-range=10.0.0.0/24 \
  --endpoint-reconciler-type=none \
  --authorization-mode="$AUTHZ" \
  --enable-admission-plugins=NamespaceLifecycle,ServiceAccount \
  --disable-admission-plugins="$DISABLED_ADMISSION" \
  --allow-privileged=true \
  --profiling=false \
  --cert-dir="$P" \
  --v=1 \
  ${OFFINFRA_K8S_APISERVER_ARGS:-} \
  >"$DIR/kube-apiserver.log" 2>&1 </dev/null &
API_PID=$!
STARTED="$STARTED $API_PID"
printf '%s\n' "$API_PID" >"$DIR/kube-apiserver.pid"
api_ready() { [ "$(api_get /readyz)" = ok ]; }
wait_for "kube-apiserver /readyz at $SERVER" "$API_PID" api_ready \
  || { show_log "$DIR/kube-apiserver.log"; exit 1; }
log "kube-apiserver pid $API_PID ready at $SERVER ($(( $(date +%s) - t_start )) s)"

# --- kube-controller-manager --------------------------------------------------------------------
# shellcheck disable=SC2086
nohup env -i PATH="$CLEAN_PATH" "$BINDIR/kube-controller-manager" \
  --kubeconfig="$DIR/kubeconfig" \
  --authentication-kubeconfig="$DIR/kubeconfig" \
  --authorization-kubeconfig="$DIR/kubeconfig" \
  --authentication-skip-lookup=true \
  --bind-address=127.0.0.1 \
  --secure-port="$KCM_PORT" \
  --port=0 \
  --leader-elect=false \
  --controllers="$CONTROLLERS" \
  --use-service-account-credentials=false \
  --service-account-private-key-file="$P/sa.key" \
  --root-ca-file="$P/ca.crt" \
  --cluster-signing-cert-file="$P/ca.crt" \
  --cluster-signing-key-file="$P/ca.key" \
  --cluster-name=offinfra \
  --profiling=false \
  --v=1 \
  ${OFFINFRA_K8S_KCM_ARGS:-} \
  >"$DIR/kube-controller-manager.log" 2>&1 </dev/null &
KCM_PID=$!
STARTED="$STARTED $KCM_PID"
printf '%s\n' "$KCM_PID" >"$DIR/kube-controller-manager.pid"
kcm_ok() {
  [ "$(curl -sk --max-time 2 "https://127.0.0.1:$KCM_PORT/healthz" 2>/dev/null)" = ok ]
}
wait_for "kube-controller-manager /healthz on 127.0.0.1:$KCM_PORT" "$KCM_PID" kcm_ok \
  || { show_log "$DIR/kube-controller-manager.log"; exit 1; }

# default namespace present and active, its default ServiceAccount has a token secret
default_ns_ok() {
  api_get /api/v1/namespaces/default | grep -q '"phase": *"Active"' || return 1
  api_get /api/v1/namespaces/default/serviceaccounts/default | tr -d ' \n' \
    | grep -q '"secrets":\[{"name":'
}
wait_for "namespace default with serviceaccount default and its token" "$KCM_PID" default_ns_ok \
  || { show_log "$DIR/kube-controller-manager.log"; exit 1; }
log "kube-controller-manager pid $KCM_PID healthy (127.0.0.1:$KCM_PORT); namespace default ready"
log "ready in $(( $(date +%s) - t_start )) s; stop with: $(dirname "$0")/k8s-down.sh $DIR"

ok=1
print_result
