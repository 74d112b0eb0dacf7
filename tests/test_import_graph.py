"""The package's import graph: no cycles, and no layer importing a higher one.

The graph is built with ``ast`` from the source (nothing is imported), from
module-level AND function-level imports; imports under ``if TYPE_CHECKING:``
are annotations only and are left out. ``from . import x`` counts as an
import of the submodule ``x`` when there is one, else of the package.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "videojury"

# Lowest first. A package may import only packages of a strictly lower layer
# (and itself); packages in one layer do not import each other. The root
# package (videojury/__init__.py: the facade) and __main__ sit on top.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "_version"),
    ("text", "io"),
    ("stats", "video", "matching"),
    ("models", "data"),
    ("human",),
    ("metrics",),
    ("run",),
    ("api", "analysis"),
    ("train", "selection", "study"),
    ("bench",),
    ("report",),
    ("cli",),
    ("<root>",),
    ("__main__",),
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}

# Upward imports not yet removed, each with its reason. The test fails when one
# disappears (take it off the list) as well as when a new one appears.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}


@functools.lru_cache(maxsize=1)
def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for f in SRC.rglob("*.py"):
        parts = list(f.relative_to(SRC.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        mods[".".join(parts)] = (f, is_pkg)
    return mods


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                skip.update(id(n) for n in ast.walk(sub))
    return skip


@functools.lru_cache(maxsize=1)
def import_graph() -> dict[str, set[str]]:
    """Module -> the videojury modules it imports (anywhere in its code)."""
    mods = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, (path, is_pkg) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.split(".")[0] == "videojury"]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    where = ".".join(base + ([node.module] if node.module else []))
                elif (node.module or "").split(".")[0] == "videojury":
                    where = node.module
                else:
                    continue
                for a in node.names:
                    sub = f"{where}.{a.name}"
                    targets.append(sub if sub in mods else where)
            for t in targets:
                while t not in mods and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in mods and t != mod:
                    graph[mod].add(t)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    nodes = set(graph) | {t for ts in graph.values() for t in ts}
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _package(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "<root>"


def test_the_graph_is_read_from_the_source():
    g = import_graph()
    # A function-level import counts: get_executor imports the Ray backend lazily.
    assert "videojury.run.ray_backend" in g["videojury.run.executor"]
    assert "videojury.run.batching" in g["videojury.run.ray_backend"]
    assert "videojury.stats.correlation" in g["videojury.stats.bootstrap"]


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_in_a_cycle():
    cycles = _cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_every_package_has_a_layer():
    packages = {_package(m) for m in _modules()}
    missing = sorted(packages - set(RANK))
    assert not missing, f"add {missing} to LAYERS in tests/test_import_graph.py"


def test_no_layer_imports_a_higher_one():
    bad = []
    seen_known = set()
    for mod, targets in import_graph().items():
        src = _package(mod)
        for t in targets:
            dst = _package(t)
            if dst != src and RANK.get(dst, -1) >= RANK.get(src, -1):
                if (mod, dst) in KNOWN_UPWARD:
                    seen_known.add((mod, dst))
                    continue
                bad.append(f"{mod} -> {t} ({src} is layer {RANK.get(src)}, {dst} layer "
                           f"{RANK.get(dst)})")
    assert not bad, "imports against the layer order:\n" + "\n".join(sorted(bad))
    gone = set(KNOWN_UPWARD) - seen_known
    assert not gone, f"no longer imported, remove from KNOWN_UPWARD: {sorted(gone)}"


def test_lower_layers_never_import_analysis():
    low = {"data", "metrics", "human", "video", "run", "stats", "text", "models"}
    bad = sorted(f"{m} -> {t}" for m, ts in import_graph().items() if _package(m) in low
                 for t in ts if _package(t) == "analysis")
    assert not bad, bad
