#!/usr/bin/env bash
# Throughput and latency of a hello-world axum handler, bare against the full teei-obs
# request layer, side by side in one run with wrk on loopback (Debian's `wrk`).
#   bash benches/http_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install Debian's wrk first" >&2; exit 1; }
cargo build -q --release -p teei-obs-examples --example hello_overhead
target/release/examples/hello_overhead > /dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null 127.0.0.1:3901/ && break; sleep 0.1; done
run() { wrk -t1 -c32 -d"$2" --latency "http://127.0.0.1:$1/"; }
run 3900 3s >/dev/null; run 3901 3s >/dev/null   # warm-up
# Alternate the two twice so drift on the machine hits both.
for round in 1 2; do
  for port in 3900 3901; do
    out=$(run $port 10s)
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    echo "round $round port $port: $rps req/s, p50 $p50, p99 $p99"
  done
done
