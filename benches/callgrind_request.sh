#!/usr/bin/env bash
# Instructions per request of one request_stacks server, counted by callgrind: stable to
# about 1 % run to run, where wall-clock CPU per request swings by ±200 ns on a shared VM.
#   bash benches/callgrind_request.sh teei            # or bare, header, peers
#   BIN=/path/to/an/older/request_stacks bash benches/callgrind_request.sh teei
#   UNSAMPLED=1 bash benches/callgrind_request.sh teei
#   KEEP=/tmp/teei.cg bash benches/callgrind_request.sh teei   # keep the dump for callgrind_annotate
# Starts the server under valgrind on 127.0.0.1:$PORT (3960), warms it up 2 s, zeroes the
# counters, drives wrk -t1 -c4 for $SECONDS_EACH (8) s, dumps and divides the program's
# instructions by the requests wrk counted. Needs Debian's valgrind and wrk.
set -euo pipefail
cd "$(dirname "$0")"
stack=${1:?usage: callgrind_request.sh bare|header|teei|peers}
port=${PORT:-3960}
seconds=${SECONDS_EACH:-8}
command -v wrk >/dev/null && command -v valgrind >/dev/null || { echo "install Debian's wrk and valgrind" >&2; exit 1; }
bin=${BIN:-}
if [ -z "$bin" ]; then cargo build -q --release -p teei-obs-stacks; bin=target/release/request_stacks; fi
out=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$stack" "$port" > "$out/log" 2>&1 &
vpid=$!
trap 'kill $vpid 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 150); do curl -s -o /dev/null "127.0.0.1:$port/" && break; sleep 0.2; done
wrk -t1 -c4 -d2s "http://127.0.0.1:$port/" > /dev/null
callgrind_control -z "$vpid" > /dev/null
requests=$(wrk -t1 -c4 -d"${seconds}s" "http://127.0.0.1:$port/" | awk '/requests in/ {print $1}')
callgrind_control -d "$vpid" > /dev/null
sleep 1
dump=$(ls -t "$out"/cg.* | head -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
if [ -n "${KEEP:-}" ]; then cp "$dump" "$KEEP"; fi
echo "$stack: $requests requests, $((total / requests)) instructions per request"
