#!/usr/bin/env bash
# Builds the Go example client from Debian packages alone (no module downloads):
#   apt-get install golang-go protobuf-compiler protoc-gen-go protoc-gen-go-grpc \
#     golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
# The stubs are generated from ../../proto with Debian's plugins on every build (newer generators
# target a newer grpc-go than Debian's), into a throwaway GOPATH; nothing generated is committed.
# Usage: examples/go/build.sh [OUT_DIR]   (default: a temporary directory) -> OUT_DIR/bin/aegis-client
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
gopath="$out/gopath"
rm -rf "$gopath"
mkdir -p "$gopath/src/aegis-client" "$out/bin"

# go_package in the .proto files: github.com/aegis-governance/aegis/gen/go/aegis/v1
protoc -I "$repo/proto" -I /usr/include \
  --go_out="$gopath/src" --go-grpc_out="$gopath/src" \
  "$repo"/proto/aegis/v1/*.proto
cp "$here/main.go" "$gopath/src/aegis-client/"

cd "$gopath/src/aegis-client"
# Pure Go (no C compiler needed); GOPATH mode against Debian's /usr/share/gocode, no downloads.
CGO_ENABLED=0 GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$gopath:/usr/share/gocode" \
  go build -o "$out/bin/aegis-client" .
echo "$out/bin/aegis-client"
