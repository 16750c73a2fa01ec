#!/usr/bin/env bash
# The cost of a request through three stacks, side by side in one run: the bare handler;
# teei-obs's request layer; and what a user would assemble instead (tower-http's TraceLayer
# with tracing-opentelemetry at 10 % sampling, axum-prometheus, tower-http request IDs) —
# see benches/stacks/src/main.rs. Each stack is its own process, so its CPU time is
# read from its own /proc/<pid>/stat; wrk (Debian's) drives one at a time, the three
# alternating ROUNDS times. Server pinned to CPU 0, wrk to CPU 1 (taskset) on 2+ cores.
#   bash benches/request_stacks.sh            # ROUNDS=5 SECONDS_EACH=5 by default
# BEFORE=<a request_stacks binary built at an earlier commit> adds its teei stack as a
# fourth, `before`, alternated with the others in the same run. BIN=<a request_stacks
# binary> runs the stacks from that binary instead of building this tree's.
set -euo pipefail
cd "$(dirname "$0")"
command -v wrk >/dev/null || { echo "install Debian's wrk first" >&2; exit 1; }
rounds=${ROUNDS:-5}
each=${SECONDS_EACH:-5}
[ -n "${BIN:-}" ] || cargo build -q --release -p teei-obs-stacks
server_cpu=""; client_cpu=""
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then server_cpu="taskset -c 0"; client_cpu="taskset -c 1"; fi
declare -A pid
port_of() { case $1 in bare) echo 3910;; teei) echo 3911;; peers) echo 3912;; before) echo 3913;; header) echo 3914;; spin) echo 3915;; floor) echo 3916;; esac; }
# HEADER=1 adds `header`: the bare handler plus a constant x-correlation-id response header.
# SPIN=N adds `spin`: the bare handler after N rounds of arithmetic on one value (about six
# instructions each), user-space work that touches no data beyond one stack slot.
# FLOOR=1 adds `floor`: the least a layer can do and still do what teei-obs's does
# (stacks/src/floor.rs).
stacks="bare teei peers${BEFORE:+ before}${HEADER:+ header}${SPIN:+ spin}${FLOOR:+ floor}"
for stack in $stacks; do
  port=$(port_of $stack)
  if curl -s -o /dev/null "127.0.0.1:$port/"; then echo "port $port is taken" >&2; exit 1; fi
  case $stack in
    before) $server_cpu "$BEFORE" teei "$port" > /dev/null 2>&1 & ;;
    *) $server_cpu ${BIN:-target/release/request_stacks} $stack "$port" > /dev/null 2>&1 & ;;
  esac
  pid[$stack]=$!
done
trap 'for p in "${pid[@]}"; do kill $p 2>/dev/null || true; done' EXIT
for stack in $stacks; do
  for _ in $(seq 50); do curl -s -o /dev/null "127.0.0.1:$(port_of $stack)/" && break; sleep 0.1; done
done
# utime and stime of the process (all its threads), in clock ticks.
ticks() { awk '{ sub(/^.*\) /, ""); print $12, $13 }' "/proc/$1/stat"; }
run() { $client_cpu wrk -t1 -c32 -d"$2" --latency "http://127.0.0.1:$1/"; }
for stack in $stacks; do run "$(port_of $stack)" 2s > /dev/null; done   # warm-up
results=$(mktemp)
hz=$(getconf CLK_TCK)
for round in $(seq "$rounds"); do
  for stack in $stacks; do
    read -r user0 sys0 <<< "$(ticks "${pid[$stack]}")"
    out=$(run "$(port_of $stack)" "${each}s")
    read -r user1 sys1 <<< "$(ticks "${pid[$stack]}")"
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    ns=$(python3 -c "print(($user1 + $sys1 - $user0 - $sys0) * 1e9 / $hz / $requests)")
    user_ns=$(python3 -c "print(($user1 - $user0) * 1e9 / $hz / $requests)")
    printf 'round %s %-5s %9s req/s  p50 %7s  p99 %7s  server CPU %6.0f ns/request (user %6.0f)\n' "$round" "$stack" "$rps" "$p50" "$p99" "$ns" "$user_ns"
    echo "$round $stack $rps $p50 $p99 $ns $user_ns" >> "$results"
  done
done
python3 - "$results" <<'PY'
import statistics, sys
def micros(v):
    for unit, f in (("us", 1), ("ms", 1000), ("s", 1e6)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
rows = [line.split() for line in open(sys.argv[1])]
rounds = sorted({r[0] for r in rows}, key=int)
get = lambda rnd, stack: next(r for r in rows if r[0] == rnd and r[1] == stack)
print("\n| stack | req/s (median) | of bare | p50 | p99 | server CPU per request | added over bare (median, range) | of which user space |")
print("|---|---|---|---|---|---|---|---|")
bare_rps = statistics.median(float(get(r, "bare")[2]) for r in rounds)
stacks = [s for s in ("bare", "header", "spin", "floor", "before", "teei", "peers") if any(r[1] == s for r in rows)]
for stack in stacks:
    rps = statistics.median(float(get(r, stack)[2]) for r in rounds)
    p50 = statistics.median(micros(get(r, stack)[3]) for r in rounds)
    p99 = statistics.median(micros(get(r, stack)[4]) for r in rounds)
    cpu = statistics.median(float(get(r, stack)[5]) for r in rounds)
    added = [float(get(r, stack)[5]) - float(get(r, "bare")[5]) for r in rounds]
    added_user = [float(get(r, stack)[6]) - float(get(r, "bare")[6]) for r in rounds]
    extra = "" if stack == "bare" else f"{statistics.median(added):.0f} ns ({min(added):.0f}–{max(added):.0f})"
    user = (f"{statistics.median(float(get(r, stack)[6]) for r in rounds):.0f} ns" if stack == "bare"
            else f"{statistics.median(added_user):.0f} ns ({min(added_user):.0f}–{max(added_user):.0f})")
    print(f"| {stack} | {rps:.0f} | {100 * rps / bare_rps:.1f} % | {p50:.0f} µs | {p99:.0f} µs | {cpu:.0f} ns | {extra} | {user} |")
teei = statistics.median(float(get(r, "teei")[5]) - float(get(r, "bare")[5]) for r in rounds)
peers = statistics.median(float(get(r, "peers")[5]) - float(get(r, "bare")[5]) for r in rounds)
print(f"\nteei-obs adds {teei:.0f} ns of server CPU per request, the peer stack {peers:.0f} ns: {teei / peers:.2f}x")
PY
rm -f "$results"
