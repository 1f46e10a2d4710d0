#!/usr/bin/env bash
# Builds the CernVM-FS client (cvmfs2, its fuse3 libraries, cvmfs_talk) and cvmfs_swissknife from
# the source snapshot in ../shared/cvmfs/, once: the result is cached outside the repository under
# $CACHE/<sha256 of the tarball>/ (bin/, lib/). Installs the Debian build dependencies it lacks.
# Usage: build.sh TARBALL CACHE   — prints the prefix on its last line.
set -euo pipefail
tarball=$1 cache=$2
sum=$(sha256sum "$tarball" | cut -c1-16)
prefix=$cache/$sum
if [ -x "$prefix/bin/cvmfs2" ] && [ -x "$prefix/bin/cvmfs_swissknife" ] && [ -f "$prefix/.done" ]; then
  echo "$prefix"; exit 0
fi
deps=(cmake make g++ libfuse3-dev libfuse-dev libgtest-dev libssl-dev libsqlite3-dev uuid-dev
  libc-ares-dev libcurl4-openssl-dev libpacparser-dev libsparsehash-dev libleveldb-dev
  libprotobuf-dev protobuf-compiler libarchive-dev libcap-dev python3-dev zlib1g-dev patchelf
  attr openssl)
missing=()
for d in "${deps[@]}"; do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cvmfs build: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -q "${missing[@]}" || { apt-get update -q && apt-get install -y -q "${missing[@]}"; }; } >&2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/cvmfs-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "cvmfs build: unpacking into $work (about 5 minutes on 2 cores)" >&2
tar xJf "$tarball" -C "$work"
src=$(echo "$work"/cvmfs-*)
mkdir -p "$src/externals_install"
# Debian's libraries instead of the bundled ones (only libressl's libcrypto, vjson, sha3 are built).
printf '%s\n' libcurl pacparser zlib sparsehash leveldb googletest maxminddb protobuf sqlite3 \
  libarchive >"$src/externals_install/.bootstrapDone"
mkdir -p "$src/build"
# No CMAKE_BUILD_TYPE: CVMFS sets its own flags (-O2 -g); a Release type would add -DNDEBUG, and
# swissknife registers libarchive's formats inside assert()s.
cd "$src/build"
cmake .. -DBUILD_SERVER=ON -DBUILD_RECEIVER=OFF \
  -DBUILD_GEOAPI=OFF -DBUILD_LIBCVMFS=OFF -DBUILD_LIBCVMFS_CACHE=OFF -DBUILD_SHRINKWRAP=OFF \
  -DBUILD_PRELOADER=OFF -DBUILD_UNITTESTS=OFF -DBUILD_DUCC=OFF -DBUILD_GATEWAY=OFF \
  -DBUILD_SNAPSHOTTER=OFF >&2
make -j"$(nproc)" cvmfs2 cvmfs_fuse3_stub cvmfs_fuse3 cvmfs_talk cvmfs_swissknife >&2
stage=$cache/.stage-$sum
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib"
for b in cvmfs2 cvmfs_talk cvmfs_swissknife; do
  find . -name "$b" -type f -perm -u+x -exec cp {} "$stage/bin/" \;
done
find . \( -name 'libcvmfs_fuse3*.so*' -o -name 'libcvmfs_crypto*.so*' -o -name 'libcvmfs_util*.so*' \
  -o -name 'libcvmfs_fuse3_stub*.so*' \) -exec cp -P {} "$stage/lib/" \;
for f in "$stage"/bin/* "$stage"/lib/*.so*; do
  [ -L "$f" ] || patchelf --set-rpath "$prefix/lib" "$f" 2>/dev/null || true
done
touch "$stage/.done"
rm -rf "$prefix"
mv "$stage" "$prefix"
if ldd "$prefix"/bin/* | grep -q "not found"; then
  echo "cvmfs build: the installed binaries miss libraries:" >&2
  ldd "$prefix"/bin/* | grep "not found" >&2
  rm -rf "$prefix"
  exit 1
fi
echo "$prefix"
