#!/bin/sh
# k8s-build.sh - build kube-apiserver and kube-controller-manager (Kubernetes
# 1.20.2) once from Debian's "kubernetes" source package and cache them, for
# k8s-up.sh. Run by "cargo xtask test-env up" / "cargo xtask test" when the
# cache is missing; needs root (a temporary deb-src entry), the Debian archive,
# and the build tools: golang-go, rsync, jq, make (build-essential) and
# dpkg-dev (the xtask installs them first; this script installs nothing).
#
# Usage:
#   k8s-build.sh            build unless OFFINFRA_K8S_CACHE holds working binaries
#
# Environment:
#   OFFINFRA_K8S_CACHE      dir for the built binaries
#                           [/var/cache/offinfra-k8s/1.20.2/bin]
#   OFFINFRA_K8S_BUILD_DIR  parent of the temporary build tree [${TMPDIR:-/tmp}]
#   OFFINFRA_K8S_KEEP_BUILD=1  keep the build tree after a successful build.
#
# What it does: adds a temporary deb-src entry mirroring the Debian entries of
# /etc/apt/sources.list.d/debian.sources (or /etc/apt/sources.list), runs
# apt-get update and "apt-get source kubernetes" (Debian's source package
# 1.20.5+really1.20.2, Go dependencies vendored), removes the entry again (and
# runs apt-get update so the deb-src index is dropped), then builds
# GOPATH-style as the package's debian/rules does:
#   GOPATH=$SRC/.go, .go/src/k8s.io/kubernetes -> $SRC, CGO_ENABLED=0,
#   make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
# with Debian's Go (3.5 to 7 minutes on 2 cores including the download, 1.4 GB
# RAM peak, about 3 GB of disk for the source tree and Go build cache). The two
# binaries and a BUILD-INFO file (versions of Kubernetes, the Debian source
# package, reflect2 and Go) are installed into OFFINFRA_K8S_CACHE; the build
# tree is deleted. A cache dir whose BUILD-INFO lacks the reflect2 line is
# rebuilt. A lock file (flock) in the cache dir serialises concurrent builds.
# "go build -mod=vendor" on the tree does not work; the Makefile
# (hack/lib/init.sh sets GO111MODULE=off) does.
# Before make, vendor/github.com/modern-go/reflect2 (v1.0.1) is replaced by the
# files of Debian's golang-github-modern-go-reflect2-dev (v1.0.2, fetched with
# "apt-get download" and unpacked with dpkg-deb, not installed). reflect2 1.0.1
# links to runtime internals whose signature changed in Go 1.18 (mapiterinit);
# built with Go >= 1.18 it makes the apiserver's JSON encoder write empty maps
# as "labels": null and panic (HTTP/2 INTERNAL_ERROR, empty reply) on some
# objects, for example GET .../serviceaccounts/default. Kubernetes 1.23 moved
# to reflect2 1.0.2 for the same reason.

set -eu

VERSION=1.20.2
log() { printf '%s\n' "k8s-build: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ $# -eq 0 ] || die "usage: $0"

BINDIR=${OFFINFRA_K8S_CACHE:-/var/cache/offinfra-k8s/$VERSION/bin}
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SRC_LIST=/etc/apt/sources.list.d/offinfra-k8s-src.sources
REFLECT2_PKG=golang-github-modern-go-reflect2-dev

# --- cleanup on exit: temp apt entry, build tree -------------------------------
BUILD_WORK=
on_exit() {
  rc=$?
  if [ -f "$SRC_LIST" ] && [ -n "${SRC_LIST_OURS:-}" ]; then
    rm -f "$SRC_LIST"
    log "removed the temporary deb-src entry $SRC_LIST"
  fi
  if [ "$rc" -ne 0 ] && [ -n "$BUILD_WORK" ] && [ -d "$BUILD_WORK" ]; then
    log "build tree left for inspection (delete it when done): $BUILD_WORK"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

have() { command -v "$1" >/dev/null 2>&1; }

# --- binaries: build once into the cache ------------------------------------------
binaries_ok() {
  [ -x "$BINDIR/kube-apiserver" ] && [ -x "$BINDIR/kube-controller-manager" ] \
    && grep -q '^reflect2=1\.0\.[2-9]' "$BINDIR/BUILD-INFO" 2>/dev/null \
    && "$BINDIR/kube-apiserver" --version >/dev/null 2>&1 \
    && "$BINDIR/kube-controller-manager" --version >/dev/null 2>&1
}

# the Debian archive entries of this machine, as deb-src (deb822)
write_src_list() {
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources
  elif [ -f /etc/apt/sources.list ] && grep -q '^deb .*debian' /etc/apt/sources.list; then
    grep '^deb .*debian' /etc/apt/sources.list | sed 's/^deb *\[[^]]*\] */deb /' \
      | while read -r _t uri suite comps; do
        printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n\n' "$uri" "$suite" "$comps"
      done
  else
    printf '%s\n' 'Types: deb-src' 'URIs: http://deb.debian.org/debian' \
      'Suites: bookworm' 'Components: main' \
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
  fi
}

build_binaries() {
  bneed=
  have go || bneed="$bneed golang-go"
  have rsync || bneed="$bneed rsync"
  have jq || bneed="$bneed jq"
  have make || bneed="$bneed build-essential"
  have dpkg-source || bneed="$bneed dpkg-dev"
  [ -z "$bneed" ] || die "missing build tools; install the Debian packages:$bneed (cargo xtask test-env up does)"
  [ "$(id -u)" -eq 0 ] || die "need root to add a deb-src entry"

  BUILD_WORK=$(mktemp -d "${OFFINFRA_K8S_BUILD_DIR:-${TMPDIR:-/tmp}}/offinfra-k8s-build.XXXXXX")
  log "building kube-apiserver and kube-controller-manager $VERSION in $BUILD_WORK (3.5 to 7 minutes)"
  t0=$(date +%s)

  [ ! -e "$SRC_LIST" ] || die "$SRC_LIST exists already (another build running?)"
  SRC_LIST_OURS=1
  write_src_list >"$SRC_LIST"
  log "apt-get update (with the temporary deb-src entry $SRC_LIST)"
  apt-get update -qq >&2
  log "apt-get source kubernetes"
  (cd "$BUILD_WORK" && apt-get source -qq kubernetes) >"$BUILD_WORK/apt-source.log" 2>&1 \
    || { tail -n 20 "$BUILD_WORK/apt-source.log" >&2; die "apt-get source kubernetes failed"; }
  rm -f "$SRC_LIST"
  SRC_LIST_OURS=
  log "removed $SRC_LIST; apt-get update"
  apt-get update -qq >&2 || log "apt-get update failed (ignored)"

  src=
  for d in "$BUILD_WORK"/kubernetes-*; do
    [ -d "$d" ] && [ -f "$d/Makefile" ] && src=$d
  done
  [ -n "$src" ] || die "no kubernetes-* source tree in $BUILD_WORK"
  log "source tree $src"

  # vendored reflect2 1.0.1 breaks under Go >= 1.18 (see the header); use
  # Debian's 1.0.2, unpacked from the .deb without installing it
  log "apt-get download $REFLECT2_PKG"
  (cd "$BUILD_WORK" && apt-get download -qq "$REFLECT2_PKG") >"$BUILD_WORK/apt-download.log" 2>&1 \
    || { tail -n 20 "$BUILD_WORK/apt-download.log" >&2; die "apt-get download $REFLECT2_PKG failed"; }
  dpkg-deb -x "$BUILD_WORK/${REFLECT2_PKG}"_*.deb "$BUILD_WORK/reflect2-deb"
  r2=$BUILD_WORK/reflect2-deb/usr/share/gocode/src/github.com/modern-go/reflect2
  [ -f "$r2/reflect2.go" ] || die "$REFLECT2_PKG has no $r2/reflect2.go"
  rm -rf "$src/vendor/github.com/modern-go/reflect2"
  mkdir -p "$src/vendor/github.com/modern-go/reflect2"
  find "$r2" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' -o -name LICENSE \) ! -name '*_test.go' \
    -exec cp {} "$src/vendor/github.com/modern-go/reflect2/" \;
  r2ver=$(dpkg-deb -f "$BUILD_WORK/${REFLECT2_PKG}"_*.deb Version)
  log "vendor/github.com/modern-go/reflect2 replaced by $r2ver"

  mkdir -p "$src/.go/src/k8s.io" "$BUILD_WORK/home" "$BUILD_WORK/gocache" "$BUILD_WORK/tmp"
  [ -L "$src/.go/src/k8s.io/kubernetes" ] || ln -s ../../.. "$src/.go/src/k8s.io/kubernetes"
  blog=$BUILD_WORK/make.log
  log "make WHAT=\"cmd/kube-apiserver cmd/kube-controller-manager\" (log: $blog)"
  if ! (cd "$src" && env -i PATH="/usr/lib/go/bin:$CLEAN_PATH" HOME="$BUILD_WORK/home" \
        GOPATH="$src/.go" GOCACHE="$BUILD_WORK/gocache" TMPDIR="$BUILD_WORK/tmp" \
        GOPROXY=off CGO_ENABLED=0 \
        make WHAT="cmd/kube-apiserver cmd/kube-controller-manager") >"$blog" 2>&1; then
    tail -n 30 "$blog" >&2
    die "make failed; see $blog"
  fi
  out=$src/_output/bin
  [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] \
    || die "make succeeded but $out lacks the binaries"
  for b in kube-apiserver kube-controller-manager; do
    install -m 0755 "$out/$b" "$BINDIR/.$b.new"
    mv -f "$BINDIR/.$b.new" "$BINDIR/$b"
  done
  {
    echo "kubernetes=$("$BINDIR/kube-apiserver" --version | sed 's/^Kubernetes v//')"
    echo "debian-source=$(basename "$BUILD_WORK"/kubernetes_*.dsc .dsc | sed 's/^kubernetes_//')"
    echo "reflect2=$r2ver"
    echo "go=$(go version | awk '{ print $3 }')"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$BINDIR/BUILD-INFO.new"
  mv -f "$BINDIR/BUILD-INFO.new" "$BINDIR/BUILD-INFO"
  log "built in $(( $(date +%s) - t0 )) s: $(tr '\n' ' ' <"$BINDIR/BUILD-INFO")-> $BINDIR"
  if [ "${OFFINFRA_K8S_KEEP_BUILD:-0}" = 1 ]; then
    log "build tree kept: $BUILD_WORK"
  else
    rm -rf "$BUILD_WORK"
  fi
  BUILD_WORK=
}

if binaries_ok; then
  log "cached: $BINDIR ($("$BINDIR/kube-apiserver" --version))"
  exit 0
fi
mkdir -p "$BINDIR"
if have flock; then
  exec 9>"$BINDIR/.build.lock"
  flock 9
fi
binaries_ok || build_binaries
if have flock; then exec 9>&-; fi
binaries_ok || die "no working binaries in $BINDIR"
log "binaries: $BINDIR ($("$BINDIR/kube-apiserver" --version))"
