#!/usr/bin/env bash
# Runs the Java example client built by build.sh: examples/java/run.sh OUT_DIR [HOST:PORT] [SESSION]
set -euo pipefail
out="$(cd "${1:?usage: run.sh OUT_DIR [HOST:PORT] [SESSION]}" && pwd)"
shift
J=/usr/share/java
cp="$out/classes"
for jar in grpc-api grpc-stub grpc-protobuf grpc-protobuf-lite grpc-context grpc-core grpc-netty \
  protobuf guava perfmark-api geronimo-annotation-1.3-spec \
  netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-common netty-handler \
  netty-resolver netty-transport; do
  cp="$cp:$J/$jar.jar"
done
exec java -cp "$cp" dev.aegis.example.AegisClient "$@"
