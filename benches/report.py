#!/usr/bin/env python3
"""Prints the benchmark table of docs/performance.md from criterion's last run.

    cargo bench --manifest-path benches/Cargo.toml && python3 benches/report.py
"""
import json
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent / "target" / "criterion"


def mean_ns(group, name):
    path = root / group / name / "new" / "estimates.json"
    if not path.exists():
        sys.exit(f"missing {path}: run the benchmarks first")
    return json.loads(path.read_text())["mean"]["point_estimate"]


bare = mean_ns("per_call", "bare")
atomic = mean_ns("per_call", "atomic_add")
atomic_over = atomic - bare
rows = [
    "bare", "atomic_add", "counted", "counted_duration", "counted_concurrent",
    "prometheus_int_counter", "prometheus_with_label_values", "metrics_counter", "autometrics",
]
print("| per call | ns | overhead over bare (ns) | overhead / atomic add's |")
print("|---|---:|---:|---:|")
for name in rows:
    ns = mean_ns("per_call", name)
    over = ns - bare
    print(f"| `{name}` | {ns:.2f} | {over:.2f} | {over / atomic_over:.2f}× |")
counted = mean_ns("per_call", "counted")
auto = mean_ns("per_call", "autometrics")
print()
print(f"`#[autometrics]` / `#[counted]`: {auto / counted:.0f}×")
print()
print("| two threads on one function | ns per call per thread | / one thread |")
print("|---|---:|---:|")
for name, single in [("atomic_add", atomic), ("counted", counted)]:
    ns = mean_ns("two_threads", name)
    print(f"| `{name}` | {ns:.2f} | {ns / single:.2f}× |")

span_bare = mean_ns("span", "bare")
print()
print("| per call with a span | ns | / bare call |")
print("|---|---:|---:|")
for name in [
    "bare", "traced_no_subscriber", "traced_filtered_by_level", "registry_only",
    "traced_unsampled", "traced_unsampled_scoped", "traced_unsampled_layer_on_registry", "traced_sampled_exported",
    "traced_sampled_layer_on_registry", "instrument_otel_sampled",
    "instrument_otel_10_percent", "fastrace_sampled",
]:
    ns = mean_ns("span", name)
    print(f"| `{name}` | {ns:.2f} | {ns / span_bare:.1f}× |")

print()
print("| log line | ns |")
print("|---|---:|")
for name in ["json_line", "json_line_with_secrets", "filtered_out", "redact_text_clean_80_chars", "redact_text_email_80_chars"]:
    print(f"| `{name}` | {mean_ns('log', name):.0f} |")

print()
print(f"`/metrics` with 10,000+ series: {mean_ns('render', 'metrics_10k_series') / 1e6:.2f} ms per render")
