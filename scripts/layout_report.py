#!/usr/bin/env python3
"""Issue 18's size rules, enforced by scripts/test: no file of teei-obs/src,
teei-obs-macros/src or teei-obs-shared/src over 500 lines, and no `fn` outside `mod tests`
whose closing brace (at the `fn` line's indentation) is more than 80 lines down. Prints the
offenders and exits 1 when there are any.
    python3 scripts/layout_report.py
"""
import glob
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")
FILES = sorted(
    glob.glob(os.path.join(ROOT, "teei-obs/src/**/*.rs"), recursive=True)
    + glob.glob(os.path.join(ROOT, "teei-obs-macros/src/**/*.rs"), recursive=True)
    + glob.glob(os.path.join(ROOT, "teei-obs-shared/src/**/*.rs"), recursive=True)
)
FN = re.compile(r"^(\s*)(pub(\([^)]*\))? )?(async )?(unsafe )?(const )?fn \w+")

long_files, long_fns = [], []
for path in FILES:
    lines = open(path, encoding="utf-8").read().split("\n")
    name = os.path.relpath(path, ROOT)
    if len(lines) - 1 > 500:
        long_files.append((len(lines) - 1, name))
    in_tests = False
    for i, line in enumerate(lines):
        if re.match(r"\s*mod tests\b", line):
            in_tests = True
        match = FN.match(line)
        if match and not in_tests:
            close = " " * len(match.group(1)) + "}"
            end = next((j for j in range(i + 1, len(lines)) if lines[j] == close), None)
            if end is not None and end - i + 1 > 80:
                long_fns.append((end - i + 1, f"{name}:{i + 1}", line.strip()[:70]))

print("files over 500 lines:")
for count, name in sorted(long_files, reverse=True):
    print(f"  {count:5} {name}")
print("functions over 80 lines (outside tests):")
for count, place, line in sorted(long_fns, reverse=True):
    print(f"  {count:5} {place}  {line}")
# A gate in scripts/test: the layout rules of issue 18 hold, or the run fails here.
if long_files or long_fns:
    sys.exit("layout: a file over 500 lines or a function over 80 (see above)")
