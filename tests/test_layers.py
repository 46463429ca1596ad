"""The package's import graph (read with ast): no cycles, no upward imports, no private names of another module.

Every module is placed in a layer; it may import from its own layer or below, never above, and the
graph has no cycle. Function-level (lazy) imports count: an import that runs later is still an edge.
A new module must be placed in LAYERS (docs/architecture.md describes them).
"""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "credhelper")

# bottom first; "credhelper.protocols" places every module of that package
LAYERS = [
    ("foundation", ["credhelper", "credhelper.__init__", "credhelper.errors", "credhelper.token", "credhelper.deadline",
                    "credhelper.commandtable", "credhelper.metadata_protocol", "credhelper.deferred",
                    "credhelper.jsontext"]),
    ("facts", ["credhelper.googleerrors", "credhelper.kinds", "credhelper.credentials", "credhelper.locks",
               "credhelper.secretservice", "credhelper.stores", "credhelper.privatefile", "credhelper.snapshot"]),
    ("profile", ["credhelper.profile"]),
    ("cache", ["credhelper.cache"]),
    ("transport", ["credhelper.transport"]),
    ("source", ["credhelper.source"]),
    ("upstream calls", ["credhelper.chain", "credhelper.downscope"]),
    ("broker", ["credhelper.broker"]),
    ("commands and protocols", ["credhelper.commands", "credhelper.doctor", "credhelper.protocols",
                                "credhelper.metadata", "credhelper.execute", "credhelper.demo",
                                "credhelper.emulator", "credhelper.emulator_command", "credhelper.urlfile",
                                "credhelper.gce"]),
    ("command line", ["credhelper.arguments", "credhelper.cli", "credhelper.__main__"]),
]

# Edges allowed for now, each with the issue that removes it; each entry must still exist (strict), so
# the list only shrinks. Empty: issue 11.1 and 11.5 removed the last cycles.
KNOWN_CYCLE_EDGES = {}


def modules():
    found = {}
    for dirpath, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                found[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = path
    return found


MODULES = modules()


def layer_of(module):
    best = None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            prefix = name != "credhelper" and module.startswith(name + ".")  # a package places its modules
            if (module == name or prefix) and (best is None or len(name) > len(best[1])):
                best = (index, name)
    return None if best is None else best[0]


def _target(name):
    """The module an imported dotted name refers to (the longest known prefix)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module):
    """[(imported module, imported private names, lineno)] and private attribute uses of module aliases."""
    tree = ast.parse(open(MODULES[module], encoding="utf-8").read())
    package = module if MODULES[module].endswith("__init__.py") else module.rpartition(".")[0]
    edges, private, aliases = [], [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _target(alias.name)
                if target and target.startswith("credhelper"):
                    edges.append((target, node.lineno))
                    aliases[alias.asname or alias.name.split(".")[0]] = target if alias.asname else "credhelper"
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("credhelper"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                if full in MODULES:  # from credhelper import broker
                    edges.append((full, node.lineno))
                    aliases[alias.asname or alias.name] = full
                else:
                    target = _target(base)
                    edges.append((target, node.lineno))
                    if alias.name.startswith("_") and not alias.name.startswith("__") and target != module:
                        private.append((f"{target}.{alias.name}", node.lineno))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")
                and aliases[node.value.id] != module):
            private.append((f"{aliases[node.value.id]}.{node.attr}", node.lineno))
    return [(t, line) for t, line in edges if t != module], private


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) is None] == []


def test_no_module_imports_from_a_layer_above_it():
    upward = []
    for module, (edges, _) in GRAPH.items():
        for target, line in edges:
            if layer_of(target) > layer_of(module) and (module, target) not in KNOWN_CYCLE_EDGES:
                upward.append(f"{module}:{line} imports {target} "
                              f"({LAYERS[layer_of(module)][0]} -> {LAYERS[layer_of(target)][0]})")
    assert upward == []


def test_no_module_imports_another_modules_private_names():
    found = [f"{module}:{line} uses {name}" for module, (_, private) in GRAPH.items() for name, line in private]
    assert found == []


def find_cycles(edges):
    """Every back edge of a depth-first walk, as the cycle it closes ("a -> b -> a")."""
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    return cycles


def test_the_import_graph_has_no_cycle():
    edges = {m: {t for t, _ in GRAPH[m][0] if (m, t) not in KNOWN_CYCLE_EDGES} for m in GRAPH}
    assert find_cycles(edges) == []


def test_the_cycle_finder_finds_cycles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_each_known_exception_still_exists():
    """When an edge is gone, delete it from KNOWN_CYCLE_EDGES: the list only shrinks."""
    gone = [edge for edge in KNOWN_CYCLE_EDGES if edge[1] not in {t for t, _ in GRAPH.get(edge[0], ([], []))[0]}]
    assert gone == []


def test_the_transport_does_not_import_the_broker():
    assert "credhelper.broker" not in {t for t, _ in GRAPH["credhelper.transport"][0]}
