#!/usr/bin/env bash
# glibc-gate.sh MAX BINARY... — fails when a binary needs a glibc symbol version newer than MAX (the
# base image's glibc, e.g. 2.36): such a binary does not load there ("version `GLIBC_2.39' not found").
# Reads each ELF's version needs (.gnu.version_r) with readelf, so nothing is run.
set -euo pipefail
max="${1:?usage: glibc-gate.sh MAX-GLIBC BINARY...}"
shift
[ "$#" -gt 0 ] || { echo "glibc-gate: no binary given" >&2; exit 2; }
status=0
for bin in "$@"; do
  needs="$(readelf --version-info --wide "$bin" | grep -o 'Name: GLIBC_[0-9.]*' | sed 's/Name: GLIBC_//' | sort -uV)" ||
    { echo "glibc-gate: $bin: not a dynamically linked ELF binary with glibc version needs" >&2; status=1; continue; }
  newest="$(printf '%s\n' "$needs" | tail -n1)"
  if [ "$(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -n1)" != "$max" ]; then
    too_new="$(printf '%s\n' "$needs" | while read -r v; do
      [ "$(printf '%s\n%s\n' "$v" "$max" | sort -V | tail -n1)" = "$max" ] || printf 'GLIBC_%s ' "$v"; done)"
    echo "glibc-gate: $bin needs ${too_new% }, newer than the base's glibc $max" >&2
    status=1
  else
    echo "glibc-gate: $bin needs at most GLIBC_$newest (base: $max)"
  fi
done
exit "$status"
