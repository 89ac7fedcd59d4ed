#!/usr/bin/env bash
# Build the lab's vCenter simulator (lab/vcsim, a Go main over govmomi's simulator package)
# offline from Debian's golang-go and golang-github-vmware-govmomi-dev, in GOPATH mode.
# Skips itself when the sources, the Go toolchain and the govmomi package are unchanged.
set -euo pipefail
cd "$(dirname "$0")/../.."

src=lab/vcsim
out=build/vcsim/vcsim
stamp=build/vcsim/stamp
gocode=/usr/share/gocode

go_bin=$(command -v go || true)
[ -z "$go_bin" ] && [ -x /usr/lib/go/bin/go ] && go_bin=/usr/lib/go/bin/go
if [ -z "$go_bin" ] || [ ! -d "$gocode/src/github.com/vmware/govmomi/simulator" ]; then
  echo "vcsim: golang-go and golang-github-vmware-govmomi-dev are required (scripts/apt-packages.txt)" >&2
  exit 1
fi

want="$(cat "$src"/*.go | sha256sum | cut -d' ' -f1) $("$go_bin" version) \
$(dpkg-query -W -f='${Version}' golang-github-vmware-govmomi-dev 2>/dev/null || echo unknown)"
if [ -x "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "setup: building vcsim (about 15 s)"
mkdir -p build/vcsim build/gopath build/gocache
GO111MODULE=off GOFLAGS= GOPROXY=off \
  GOPATH="$PWD/build/gopath:$gocode" GOCACHE="$PWD/build/gocache" \
  "$go_bin" build -o "$out.tmp" "./$src"
mv "$out.tmp" "$out"
echo "$want" > "$stamp"
