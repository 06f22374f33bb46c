"""The package's structure, read from its source (no imports run):

* **one-way imports** — the graph of thermoep-internal imports has no cycle among module-level
  imports, and nothing outside ``thermoep/cli/`` imports ``thermoep.cli`` (the command line is
  a client of the library; ``thermoep/__main__.py``, the ``python -m thermoep`` entry point
  like the console script, is the one exception and is imported by nothing);
* **samplers produce states** — ``thermoep/samplers/`` holds no parameter-gradient code and no
  ``isinstance`` test against a concrete energy or cost class.

Import edges: ``import thermoep.a.b`` and ``from thermoep.a import b`` (relative imports
resolved) give an edge to ``thermoep.a.b`` when it is a module, else to ``thermoep.a``, plus an
edge to every package on the way that the importer is not itself inside (importing
``thermoep.samplers.base`` from ``thermoep.energies`` runs ``thermoep/samplers/__init__.py``).
Imports inside functions run when the function is called, so they cannot deadlock module
initialisation: they are edges too, but reported separately and not counted as cycles.
``if TYPE_CHECKING:`` imports never run and are ignored.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

# read from the source tree, not imported: a cycle that breaks the import is still reported
ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "thermoep"
#: modules the lead is rewriting on another branch (issue 18): a cycle through them is recorded


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The thermoep modules an import statement runs (module docstring)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            package = module if _is_package(module) else module.rpartition(".")[0]
            parts = package.split(".")
            base = ".".join(parts[:len(parts) - node.level + 1]
                            + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [base] + [f"{base}.{a.name}" for a in node.names
                          if f"{base}.{a.name}" in MODULES]
    out = []
    for name in names:
        if name.split(".")[0] != "thermoep":
            continue
        while name not in MODULES:  # ``import thermoep.a.b`` of an attribute: its module
            name = name.rpartition(".")[0]
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # the packages on the way, then the module
            target = ".".join(parts[:i])
            if not _inside(module, target):
                out.append(target)
    return out


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def import_edges() -> dict[str, dict[tuple[str, str], list[int]]]:
    """``{"module": {(importer, imported): [lines]}, "function": {...}}``."""
    edges: dict[str, dict[tuple[str, str], list[int]]] = {"module": {}, "function": {}}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

        def walk(nodes, where, module=module):
            for node in nodes:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    for target in _targets(module, node):
                        edges[where].setdefault((module, target), []).append(node.lineno)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    walk(ast.iter_child_nodes(node), "function")
                elif not _is_type_checking(node):
                    walk(ast.iter_child_nodes(node), where)

        walk(tree.body, "module")
    return edges


def cycles(edges) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a
    sorted list of its modules."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def _describe(component, edges) -> str:
    """The component's modules and one shortest cycle through it, each hop as
    ``path:line imports module``."""
    from collections import deque

    inner = {(a, b): ls for (a, b), ls in edges.items() if a in component and b in component}
    start = component[0]
    previous, queue = {}, deque([start])
    while queue:
        a = queue.popleft()
        for (u, b) in sorted(inner):
            if u != a:
                continue
            if b == start:
                path = [a]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                hops = list(zip(path[::-1], path[-2::-1] + [start], strict=True))
                return f"[{', '.join(component)}], e.g. " + " -> ".join(
                    f"{MODULES[u].relative_to(ROOT)}:{inner[u, v][0]} imports {v}"
                    for u, v in hops)
            if b not in previous:
                previous[b] = a
                queue.append(b)
    raise AssertionError(f"{component} is not a cycle")


EDGES = import_edges()
CYCLES = cycles(EDGES["module"])
#: an import deferred into a function still makes the dependency: a cycle through one is a
#: cycle of the design, even where it does not break the import
ALL_EDGES = {k: EDGES["module"].get(k, []) + EDGES["function"].get(k, [])
             for k in set(EDGES["module"]) | set(EDGES["function"])}
ALL_CYCLES = cycles(ALL_EDGES)


def test_the_walk_sees_the_package():
    """Not vacuous: the walk finds the modules and the edges every estimator relies on."""
    assert len(MODULES) > 60
    module = EDGES["module"]
    assert ("thermoep.objectives.base", "thermoep.samplers.loop") in module
    assert ("thermoep.energies.interactions.dense", "thermoep.energies.interactions.base") \
        in module
    assert ("thermoep.samplers.exact", "thermoep.gradient") in module
    assert ("thermoep.energies.model", "thermoep.samplers") not in module
    # a made-up cycle is found
    assert cycles({("a", "b"): [1], ("b", "c"): [1], ("c", "a"): [1], ("c", "d"): [1]}) == [
        ["a", "b", "c"]]
    assert cycles({("a", "b"): [1], ("b", "c"): [1]}) == []


def test_no_import_cycle_at_module_level():
    assert not CYCLES, "\n".join(_describe(c, EDGES["module"]) for c in CYCLES)


def test_no_import_cycle_through_deferred_imports_either():
    assert not ALL_CYCLES, "\n".join(_describe(c, ALL_EDGES) for c in ALL_CYCLES)


def test_function_level_imports_are_reported():
    """Imports deferred into functions (to break a cycle or an import cost) are listed here,
    so that a new one is a visible change; none reaches the command line."""
    deferred = EDGES["function"]
    assert deferred  # the walk sees them
    for (a, b), lines in deferred.items():
        assert not _inside(b, "thermoep.cli") or _inside(a, "thermoep.cli"), (a, b, lines)


def test_only_the_command_line_imports_the_command_line():
    offenders = []
    for where, edges in EDGES.items():
        for (a, b), lines in edges.items():
            if _inside(b, "thermoep.cli") and not _inside(a, "thermoep.cli") \
                    and a != "thermoep.__main__":
                offenders.append(f"{MODULES[a].relative_to(ROOT)}:{lines[0]} imports {b} "
                                 f"({where} level)")
            assert b != "thermoep.__main__", (a, lines)  # the entry point is imported by none
    assert not offenders, "\n".join(offenders)


# -- samplers produce states -----------------------------------------------------------------------

SAMPLERS = PACKAGE / "samplers"
#: exact.py is a reference by enumeration (it differentiates log Z and E_p[∂θE] to give the
#: ground truth), not a sampler: it is the one file of samplers/ allowed parameter gradients
NOT_SAMPLERS = ("exact.py",)
GRADIENT_CODE = re.compile(r"\bparam_grad\w*\b|\bnamed_parameters\b|\bautograd\s*\.\s*grad\b")


def _sampler_files():
    files = [p for p in sorted(SAMPLERS.rglob("*.py")) if p.name not in NOT_SAMPLERS]
    assert len(files) >= 8
    return files


def _code_without_strings(path: Path) -> str:
    """The source with comments and string literals blanked (docstrings may name the
    gradients the observers compute)."""
    import io
    import tokenize

    out = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type in (tokenize.COMMENT, tokenize.STRING):
            continue
        out.append((tok.start[0], tok.string))
    lines: dict[int, list[str]] = {}
    for line, text in out:
        lines.setdefault(line, []).append(text)
    return "\n".join(f"{n}: {' '.join(parts)}" for n, parts in sorted(lines.items()))


def test_samplers_hold_no_parameter_gradient_code():
    """No ``param_grad``, ``named_parameters`` or ``autograd.grad`` in samplers/ (exact.py, a
    reference by enumeration, excluded): the observers compute gradients, samplers states."""
    offenders = []
    for path in _sampler_files():
        for line in _code_without_strings(path).splitlines():
            if GRADIENT_CODE.search(line):
                n, _, code = line.partition(": ")
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {code}")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):  # ``from torch.autograd import grad`` and calls of it
            if isinstance(node, ast.ImportFrom) and node.module == "torch.autograd" and any(
                    a.name == "grad" for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports "
                                 "torch.autograd.grad")
    assert not offenders, "\n".join(offenders)
    # the check sees what it looks for
    assert GRADIENT_CODE.search("g = energy.param_grad(x, s)")
    assert GRADIENT_CODE.search("torch.autograd.grad(e, p)")
    assert not GRADIENT_CODE.search("state_grad(x, s)")


def _energy_and_cost_classes() -> set[str]:
    """Every class defined in thermoep/energies/ and thermoep/costs.py."""
    names = set()
    for path in [*sorted((PACKAGE / "energies").rglob("*.py")), PACKAGE / "costs.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names.add(node.name)
    names |= {"Input", "Layer"}  # public names of the layer types
    return names


def _class_names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Tuple):
        return [n for e in node.elts for n in _class_names(e)]
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    return []


def test_samplers_do_not_branch_on_concrete_energies_or_costs():
    """``isinstance(x, C)`` in samplers/ may name the base classes ``Energy`` and ``Cost``
    only: a sampler sees an energy's mathematics (fields, laws, blocks), never its family."""
    concrete = _energy_and_cost_classes() - {"Energy", "Cost"}
    assert {"LayeredHopfield", "LayeredBoltzmann", "SquaredError", "Dense"} <= concrete
    offenders = []
    for path in [*_sampler_files(), SAMPLERS / "exact.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("isinstance", "issubclass") and len(node.args) == 2:
                hit = sorted(set(_class_names(node.args[1])) & concrete)
                if hit:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {hit}")
            if isinstance(node, ast.Compare) and any(  # type(x) is C / type(x) == C
                    isinstance(c, ast.Name) and c.id in concrete for c in node.comparators):
                left = node.left
                if isinstance(left, ast.Call) and getattr(left.func, "id", None) == "type":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: type test")
    assert not offenders, "\n".join(offenders)
