#!/usr/bin/env bash
# Builds the Java example client from Debian packages alone:
#   apt-get install default-jdk-headless libgrpc-java protobuf-compiler-grpc-java-plugin \
#     libprotobuf-java libguava-java libgeronimo-annotation-1.3-spec-java libnetty-java libperfmark-java
# The message classes and gRPC stubs are generated from ../../proto with protoc and Debian's
# grpc-java plugin on every build; nothing generated is committed.
# Usage: examples/java/build.sh OUT_DIR   -> OUT_DIR/classes (run it with examples/java/run.sh OUT_DIR)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:?usage: build.sh OUT_DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out/java-gen" "$out/classes"
mkdir -p "$out/java-gen" "$out/classes"

# google/api/*.proto are vendored in proto/ and needed at run time (the service's descriptor
# imports google/api/annotations.proto); google/protobuf/* come with protobuf.jar.
protoc -I "$repo/proto" -I /usr/include \
  --java_out="$out/java-gen" \
  --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin --grpc-java_out="$out/java-gen" \
  "$repo"/proto/aegis/v1/*.proto "$repo"/proto/google/api/annotations.proto "$repo"/proto/google/api/http.proto

J=/usr/share/java
cp="$J/grpc-api.jar:$J/grpc-stub.jar:$J/grpc-protobuf.jar:$J/protobuf.jar:$J/guava.jar:$J/geronimo-annotation-1.3-spec.jar"
find "$out/java-gen" "$here" -name '*.java' >"$out/sources.txt"
javac -nowarn -encoding UTF-8 -d "$out/classes" -cp "$cp" @"$out/sources.txt"
echo "$out/classes"
