#!/usr/bin/env bash
# Makes a CernVM-FS repository without cvmfs_server: keys as `cvmfs_server mkfs` makes them, the
# storage skeleton, `cvmfs_swissknife create`, a whitelist signed with the master key, then the
# content of a tarball ingested and the manifest signed again.
# Usage: repo.sh PREFIX WORK FQRN TARBALL
#   PREFIX  the client build (bin/cvmfs_swissknife)     WORK  an empty directory for it all
# Writes WORK/keys/FQRN.{pub,crt,key,masterkey} and WORK/srv/cvmfs/FQRN/ (serve WORK/srv).
set -euo pipefail
prefix=$1 work=$2 fqrn=$3 tarball=$4
sk=$prefix/bin/cvmfs_swissknife
keys=$work/keys stor=$work/srv/cvmfs/$fqrn tmp=$work/tmp
mkdir -p "$keys" "$stor/data/txn" "$tmp" "$work/rdonly" "$work/union" "$work/spool"
for i in $(seq 0 255); do mkdir -p "$stor/data/$(printf %02x "$i")"; done
q() { "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }; }

q openssl genrsa -out "$keys/$fqrn.masterkey" 2048
q openssl rsa -in "$keys/$fqrn.masterkey" -pubout -out "$keys/$fqrn.pub"
q openssl genrsa -out "$keys/$fqrn.key" 2048
q openssl req -new -subj "/CN=$fqrn CernVM-FS Release Managers" -key "$keys/$fqrn.key" \
  -out "$tmp/csr"
q openssl x509 -req -days 365 -in "$tmp/csr" -signkey "$keys/$fqrn.key" -out "$keys/$fqrn.crt"

# swissknife writes a statistics database where server.conf says (else it refuses to run).
conf=/etc/cvmfs/repositories.d/$fqrn
mkdir -p "$conf"
echo "CVMFS_STATISTICS_DB=$work/spool/stats.db" >"$conf/server.conf"
trap 'rm -rf "$conf"; rmdir /etc/cvmfs/repositories.d /etc/cvmfs 2>/dev/null || true' EXIT

upstream=local,$stor/data/txn,$stor
# swissknife reads what it needs of the repository (reflog, catalogs) from a URL: its storage.
url=file://$stor
q "$sk" create -t "$tmp" -r "$upstream" -n "$fqrn" -a sha1 -o "$tmp/manifest" \
  -R "$work/spool/reflog.chksum"

# The whitelist: now, expiry, name, the certificate's fingerprint; then the sha1 of those lines,
# signed with the master key.
{
  date -u +%Y%m%d%H%M%S
  echo "E$(date -u --date='+30 days' +%Y%m%d%H%M%S)"
  echo "N$fqrn"
  openssl x509 -in "$keys/$fqrn.crt" -noout -fingerprint -sha1 | sed 's/^.*=//'
} >"$tmp/wl"
hash=$(sha1sum "$tmp/wl" | cut -d' ' -f1)
printf '%s' "$hash" >"$tmp/wl.hash"
q openssl pkeyutl -inkey "$keys/$fqrn.masterkey" -sign -in "$tmp/wl.hash" -out "$tmp/wl.sig"
{ cat "$tmp/wl"; echo "--"; echo "$hash"; cat "$tmp/wl.sig"; } >"$stor/.cvmfswhitelist"

sign() {
  q "$sk" sign -c "$keys/$fqrn.crt" -k "$keys/$fqrn.key" -n "$fqrn" -u "$url" -m "$1" \
    -t "$tmp" -r "$upstream" -R "$work/spool/reflog.chksum"
}
base=$(grep '^C' "$tmp/manifest" | cut -c2-)
sign "$tmp/manifest"
q "$sk" ingest -T "$tarball" -B / -b "$base" -c "$work/rdonly" -u "$work/union" -t "$tmp" \
  -r "$upstream" -w "$url" -o "$tmp/manifest2" -K "$keys/$fqrn.pub" -N "$fqrn" -U 0 -G 0
sign "$tmp/manifest2"
rm -rf "$tmp" "$work/log"
