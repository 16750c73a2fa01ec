#!/usr/bin/env bash
# Throughput and latency of a hello-world axum handler, bare against the full teei-obs
# request layer (HTTP metrics, correlation IDs, tracing at 10 % sampling), side by side in
# one run with wrk on loopback (Debian's `wrk`). The two alternate, ROUNDS times each, so
# drift on the machine hits both; the ratio is of the medians. With two or more cores the
# server is pinned to CPU 0 and wrk to CPU 1 (taskset), so they do not steal each other's
# core: unpinned, the ratio swings by ±5 points from run to run on a 2-core machine.
#   bash benches/http_overhead.sh            # ROUNDS=7 SECONDS_EACH=5 by default
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "install Debian's wrk first" >&2; exit 1; }
rounds=${ROUNDS:-7}
each=${SECONDS_EACH:-5}
cargo build -q --release -p teei-obs-examples --example hello_overhead
if curl -s -o /dev/null 127.0.0.1:3900/; then echo "port 3900 is taken: stop the old server" >&2; exit 1; fi
server_cpu=""; client_cpu=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then server_cpu="taskset -c 0"; client_cpu="taskset -c 1"; fi
$server_cpu target/release/examples/hello_overhead > /dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -s -o /dev/null 127.0.0.1:3901/ && break; sleep 0.1; done
run() { $client_cpu wrk -t1 -c32 -d"$2" --latency "http://127.0.0.1:$1/"; }
run 3900 2s >/dev/null; run 3901 2s >/dev/null; run 3902 2s >/dev/null   # warm-up
results=$(mktemp)
for round in $(seq "$rounds"); do
  for port in 3900 3901 3902; do
    out=$(run $port "${each}s")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    case $port in 3900) what=bare;; 3901) what=layer;; 3902) what="bare+header";; esac
    echo "round $round $what: $rps req/s, p50 $p50, p99 $p99"
    echo "$port $rps $p50 $p99" >> "$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
def micros(v):
    for unit, f in (("us", 1), ("ms", 1000), ("s", 1e6)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
rows = [line.split() for line in open(sys.argv[1])]
def col(port, i, conv=float):
    return statistics.median(conv(r[i]) for r in rows if r[0] == port)
bare, layer = col("3900", 1), col("3901", 1)
pairs = [float(l[1]) / float(b[1]) for b, l in zip(rows[0::3], rows[1::3])]
header = col("3902", 1)
print(f"median: bare {bare:.0f} req/s, layer {layer:.0f} req/s -> {100 * layer / bare:.1f} % of bare")
print(f"median: bare + a 36-character x-correlation-id header only: {header:.0f} req/s -> {100 * header / bare:.1f} % of bare")
print(f"per-round ratios: {' '.join(f'{100 * p:.0f}%' for p in pairs)}; median {100 * statistics.median(pairs):.1f} %")
print(f"median p50: bare {col('3900', 2, micros):.0f} us, layer {col('3901', 2, micros):.0f} us")
print(f"median p99: bare {col('3900', 3, micros):.0f} us, layer {col('3901', 3, micros):.0f} us, added {col('3901', 3, micros) - col('3900', 3, micros):.0f} us")
PY
rm -f "$results"
