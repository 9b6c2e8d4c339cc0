#!/usr/bin/env bash
# Builds the Debian packages from a build folder, installs them with apt-get
# (as root or with sudo), and checks the installed result: `fivo plugins`
# finds every bundled plugin, fivo(1) is there, and the SDK example
# (sdk/examples/lgssm) builds against the installed headers and CMake
# package and loads into the installed host. Removes the packages after.
#   scripts/deb_test.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
src="$PWD"
build="$(cd "${1:-build}" && pwd)"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

(cd "$build" && cpack -G DEB >/dev/null)
version="$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")"
arch="$(dpkg --print-architecture)"
host_deb="$build/fivo_${version}_${arch}.deb"
dev_deb="$build/libfivo-dev_${version}_${arch}.deb"
for d in "$host_deb" "$dev_deb"; do [ -f "$d" ] || { echo "deb_test: no $d" >&2; exit 1; }; done
echo "deb_test: fivo depends on: $(dpkg-deb -f "$host_deb" Depends)"
echo "deb_test: libfivo-dev depends on: $(dpkg-deb -f "$dev_deb" Depends)"
dpkg-deb -f "$dev_deb" Depends | grep -q "fivo (= $version)"
host_files="$(dpkg-deb -c "$host_deb")"
dev_files="$(dpkg-deb -c "$dev_deb")"
grep -q "usr/bin/fivo$" <<<"$host_files"
grep -q "usr/share/man/man1/fivo.1" <<<"$host_files"
grep -q "usr/lib/fivo/plugins/vrnn.so" <<<"$host_files"
grep -q "usr/include/fivo/abi.h" <<<"$dev_files"
grep -q "usr/lib/pkgconfig/fivo.pc" <<<"$dev_files"
if grep -q "usr/include/" <<<"$host_files"; then
  echo "deb_test: headers in the runtime package" >&2; exit 1
fi

work="$(mktemp -d /tmp/fivo_deb_XXXXXX)"
cleanup() {
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get purge -y fivo libfivo-dev >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
  "$host_deb" "$dev_deb" >/dev/null

plugins="$(env -u FIVO_PLUGIN_PATH /usr/bin/fivo plugins)"
head -3 <<<"$plugins"
for p in vrnn srnn ghmm elbo iwae fivo multinomial systematic pianoroll speech chain timit; do
  grep -q " $p " <<<"$plugins" || { echo "deb_test: installed fivo lacks plugin $p" >&2; exit 1; }
done
man -w fivo >/dev/null 2>&1 || [ -f /usr/share/man/man1/fivo.1 ] || [ -f /usr/share/man/man1/fivo.1.gz ]

# The SDK example against the installed package only (no source tree paths).
cp -r "$src/sdk/examples/lgssm" "$work/lgssm"
cmake -S "$work/lgssm" -B "$work/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
so="$(find "$work/build" -name 'lgssm.so' | head -1)"
[ -n "$so" ] || { echo "deb_test: the example built no lgssm.so" >&2; exit 1; }
grep -q " lgssm " <<<"$(FIVO_PLUGIN_PATH="$(dirname "$so")" /usr/bin/fivo plugins)" ||
  { echo "deb_test: the installed host does not load the example" >&2; exit 1; }
echo "deb_test: ok ($(basename "$host_deb"), $(basename "$dev_deb"))"
