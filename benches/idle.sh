#!/usr/bin/env bash
# The idle platform: the seven services started by the launcher (release build, embedded
# broker and database, the platform console receiving their spans), then left alone for
# SECONDS_IDLE (60 by default) after a 10 s settle. For each service: CPU over the window
# (utime + stime from /proc/<pid>/stat), wake-ups per second (context switches of all its
# threads, /proc/<pid>/task/*/status), RSS; and the seven summed. Ports from 24000.
#   bash benches/idle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${SECONDS_IDLE:-60}
cargo build -q --release -p teei-platform --bins
base=24000
target/release/platform --no-build --base-port $base --console-port $((base + 7)) --seconds $((idle + 60)) > /tmp/teei-idle-platform.log 2>&1 &
launcher=$!
trap 'kill $launcher 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q "every service reports healthy" /tmp/teei-idle-platform.log && break; sleep 0.2; done
grep -q "every service reports healthy" /tmp/teei-idle-platform.log || { cat /tmp/teei-idle-platform.log; exit 1; }
sleep 10
services="api-gateway unified-profile kintell-connector buddy-service upskilling-connector q2q-ai safety-moderation"
declare -A pid
for s in $services; do pid[$s]=$(pgrep -P $launcher -f "release/$s\$" | head -1); done
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}'; }
declare -A t0 w0
for s in $services; do t0[$s]=$(ticks ${pid[$s]}); w0[$s]=$(switches ${pid[$s]}); done
sleep "$idle"
hz=$(getconf CLK_TCK)
total_cpu=0; total_wake=0; total_rss=0
printf '%-22s %10s %12s %8s\n' service "CPU %" "wake-ups/s" "RSS MiB"
for s in $services; do
  cpu=$(python3 -c "print(round(($(ticks ${pid[$s]}) - ${t0[$s]}) / $hz / $idle * 100, 3))")
  wake=$(python3 -c "print(round(($(switches ${pid[$s]}) - ${w0[$s]}) / $idle, 1))")
  rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' /proc/${pid[$s]}/status)
  printf '%-22s %10s %12s %8s\n' "$s" "$cpu" "$wake" "$rss"
  total_cpu=$(python3 -c "print(round($total_cpu + $cpu, 3))"); total_wake=$(python3 -c "print(round($total_wake + $wake, 1))"); total_rss=$((total_rss + rss))
done
printf '%-22s %10s %12s %8s\n' "the seven" "$total_cpu" "$total_wake" "$total_rss"
