#!/usr/bin/env python3
"""The module graph of teei-obs/src, from its `use` paths and re-exports; fails on a cycle.

    python3 scripts/module_graph.py          # check (scripts/test runs this)
    python3 scripts/module_graph.py --print  # and print every module's dependencies

A module depends on another when its code (not its comments: doc links are not imports)
names it, or an item re-exported through a parent's `pub use`, in a `crate::`/`super::`/
`self::` path. Edges to a module's own ancestors are
left out: `lib.rs` and each `mod.rs` wire their children together, which is not a cycle
of the code that does the work. Test modules (`mod tests`) are left out too.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "teei-obs", "src")


def modules():
    found = {}
    for directory, _, files in os.walk(ROOT):
        for file in files:
            if not file.endswith(".rs"):
                continue
            path = os.path.join(directory, file)
            parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib"):
                parts = parts[:-1]
            source = open(path, encoding="utf-8").read()
            source = re.sub(r"#\[cfg\(test\)\]\s*mod tests \{.*", "", source, flags=re.S)
            # Comments (doc links among them) name modules without using them.
            source = re.sub(r"//[^\n]*", "", source)
            found["::".join(["crate"] + parts)] = source
    return found


MODULES = modules()


def absolute(current, path):
    segments = path.split("::")
    base = current.split("::")
    if segments[0] == "crate":
        out, segments = ["crate"], segments[1:]
    elif segments[0] == "super":
        out = base[:]
        while segments and segments[0] == "super":
            out, segments = out[:-1], segments[1:]
    elif segments[0] == "self":
        out, segments = base[:], segments[1:]
    else:
        out = base[:]  # relative to the current module (`use x::y` in a mod.rs)
    return out + segments


# Re-exports: `pub use child::{a, b as c}` / `pub(crate) use child::a` in a module map
# `module::a` to `module::child`.
REEXPORTS = {}
for name, source in MODULES.items():
    for path, items in re.findall(
        r"pub(?:\(crate\))?\s+use\s+((?:crate|super|self|[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)::\{([^}]*)\}",
        source,
    ):
        for item in items.split(","):
            item = item.strip()
            if not item:
                continue
            exported = item.split(" as ")[-1].strip()
            target = absolute(name, path + "::" + item.split(" as ")[0].strip())
            REEXPORTS[name + "::" + exported] = "::".join(target)
    for path, item, alias in re.findall(
        r"pub(?:\(crate\))?\s+use\s+((?:crate|super|self|[a-z_][a-z0-9_]*)(?:::[a-z_][a-z0-9_]*)*)::([A-Za-z_][A-Za-z0-9_]*)(?:\s+as\s+([A-Za-z_][A-Za-z0-9_]*))?;",
        source,
    ):
        REEXPORTS[name + "::" + (alias or item)] = "::".join(absolute(name, path + "::" + item))


def owner(segments):
    """The module a path names (through re-exports), or None."""
    for _ in range(8):
        best = None
        for i in range(len(segments), 0, -1):
            candidate = "::".join(segments[:i])
            if candidate in REEXPORTS:
                segments = REEXPORTS[candidate].split("::") + segments[i:]
                break
            if candidate in MODULES:
                best = candidate
                break
        else:
            return best
        if best is not None:
            return best
    return None


def dependencies():
    edges = {}
    for name, source in MODULES.items():
        deps = set()
        paths = re.findall(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)", source)
        for prefix, items in re.findall(r"\b((?:crate|super|self)(?:::[a-z_][a-z0-9_]*)*)::\{([^}]*)\}", source):
            for item in items.split(","):
                item = item.strip().split(" as ")[0].split("::")[0].strip()
                if item and item != "self":
                    paths.append(prefix + "::" + item)
        for path in paths:
            target = owner(absolute(name, path))
            if target and target != name and not name.startswith(target + "::") and not target.startswith(name + "::"):
                deps.add(target)
        edges[name] = deps
    return edges


def cycles(edges):
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10_000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


if __name__ == "__main__":
    edges = dependencies()
    if "--print" in sys.argv:
        for name in sorted(edges):
            print(f"{name} -> {', '.join(sorted(edges[name])) or '-'}")
    found = cycles(edges)
    if found:
        for component in found:
            print("import cycle:", " <-> ".join(component))
        sys.exit(1)
    print(f"module graph of teei-obs: {len(edges)} modules, no import cycle")
