#!/usr/bin/env bash
# Memory of a service under load at 100 % sampling, with the OTLP collector down and up:
# RSS before, its peak during, and 5 s after REQUESTS requests (wrk, bounded by count
# through its Lua hook and by time), from /proc/<pid>/status. The collector is teei-obs's
# own OTLP/HTTP receiver (the platform console) in a process of its own.
#   bash benches/memory_load.sh               # REQUESTS=100000 by default
set -euo pipefail
cd "$(dirname "$0")"
command -v wrk >/dev/null || { echo "install Debian's wrk first" >&2; exit 1; }
requests=${REQUESTS:-100000}
cargo build -q --release -p teei-obs-stacks
rss() { awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$1/status"; }
lua=$(mktemp --suffix .lua)
cat > "$lua" <<LUA
-- One thread (-t1): it stops itself after $requests responses.
local count = 0
response = function()
  count = count + 1
  if count >= $requests then wrk.thread:stop() end
end
LUA
trap 'kill $(jobs -p) 2>/dev/null || true; rm -f "$lua"' EXIT
measure() {
  local name=$1 endpoint=$2
  target/release/request_stacks teei-otlp 3921 "$endpoint" > /dev/null 2>&1 &
  local server=$!
  for _ in $(seq 50); do curl -s -o /dev/null 127.0.0.1:3921/ && break; sleep 0.1; done
  local before; before=$(rss $server)
  # Bounded in count (the Lua hook stops at REQUESTS) and in time (60 s).
  local out; out=$(wrk -t1 -c16 -d60s -s "$lua" "http://127.0.0.1:3921/" 2>&1 | grep -E "requests in")
  local peak; peak=$(hwm $server)
  sleep 5
  local after; after=$(rss $server)
  echo "collector $name: $(echo "$out" | awk '/requests in/ {print $1}') requests; RSS ${before} MiB before, peak ${peak} MiB, ${after} MiB 5 s after"
  kill $server; wait $server 2>/dev/null || true
}
measure down "http://127.0.0.1:9"
target/release/request_stacks receiver 3922 > /dev/null 2>&1 &
for _ in $(seq 50); do curl -s -o /dev/null 127.0.0.1:3922/obs && break; sleep 0.1; done
measure up "http://127.0.0.1:3922"
