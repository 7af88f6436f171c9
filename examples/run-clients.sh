#!/usr/bin/env bash
# Builds the Go and Java example clients (examples/go, examples/java) and runs both against a live
# Aegis server: evaluate, a batch, execute, an audit query, over gRPC (h2c).
#
#   examples/run-clients.sh                  # starts `aegis serve examples/policy.yaml` itself
#   examples/run-clients.sh 127.0.0.1:8000   # uses a server that is already running
#
# Needs `npm run build` (when it starts the server) and the Debian packages named in
# examples/go/build.sh and examples/java/build.sh. CI (.ci/run) runs it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
addr="${1:-}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "$addr" ]; then
  # Port 0: the server picks a free port and logs {"msg":"listening","address":"http://HOST:PORT"}.
  env -u DATABASE_URL -u AEGIS_API_KEY -u AEGIS_ADMIN_KEY AEGIS_AUDIT_DB=memory: AEGIS_LOG_LEVEL=INFO \
    node dist/src/cli/main.js serve examples/policy.yaml --host 127.0.0.1 --port 0 >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    addr="$(grep -o '"address":"http://[^"]*"' "$work/server.log" | head -1 | sed 's|.*http://||; s|"$||' || true)"
    [ -n "$addr" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$work/server.log" >&2
      echo "run-clients: the server exited" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    cat "$work/server.log" >&2
    echo "run-clients: the server did not log its address within 30 s" >&2
    exit 1
  fi
  echo "server: $addr"
fi

t0=$(date +%s)
go_bin="$(examples/go/build.sh "$work/go" | tail -1)"
t1=$(date +%s)
examples/java/build.sh "$work/java" >/dev/null
t2=$(date +%s)
echo "built: Go client in $((t1 - t0)) s, Java client in $((t2 - t1)) s"

status=0
echo "--- Go client"
"$go_bin" -addr "$addr" || status=1
echo "--- Java client"
examples/java/run.sh "$work/java" "$addr" || status=1
if [ "$status" -ne 0 ] && [ -s "$work/server.log" ]; then
  echo "--- server log (last 40 lines)" >&2
  tail -40 "$work/server.log" >&2
fi
exit "$status"
