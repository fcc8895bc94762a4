"""The codebase's own rules, checked on its source: every module imports, the packages form layers (a
module imports only from its own package or a lower layer), the import graph of ``seqlab`` has no cycle
(function-level imports included), no module reaches into another's underscored names, no module is
longer than ``MAX_LINES``, and no block of ``DUPLICATE_LINES`` lines is written twice."""
from __future__ import annotations

import ast
import hashlib
import importlib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "seqlab"
MAX_LINES = 350
DUPLICATE_LINES = 6


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if p.stem != "__main__"}
"""Every module of the package but the ``__main__`` ones (importing those runs a command)."""


def imported(path: Path) -> list[tuple[str, str | None, int]]:
    """``(module, name or None, line)`` for every import in the file, at any depth (a name imported
    ``from`` a package that is itself a module of the package counts as that module)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((sub, None, node.lineno) if sub in MODULES else (node.module, alias.name, node.lineno))
    return found


LAYERS = [
    ("errors",),  # the typed errors every layer raises
    ("device", "capture", "files", "distributed", "plots"),  # the base: single modules that need only errors
    ("config",),
    ("",),  # the ``seqlab`` package itself: the public names (config, errors; the Tagger on first use)
    ("data", "apple"),
    ("nn",),
    ("tagger",),
    ("train", "export"),
    ("serve", "experiments"),
    ("annotate",),
    ("cli",),
]
"""Each layer's packages (or base modules) by the name under ``seqlab``, lowest first."""
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def room(module: str) -> str:
    """The package (or base module) a module belongs to: ``seqlab.nn.crf`` → ``nn``; ``seqlab`` → ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_belongs_to_a_layer():
    assert not {room(name) for name in MODULES} - set(RANK), "a module outside every layer: add its package to LAYERS"


def test_each_package_imports_only_from_lower_layers():
    upward = []
    for name, path in MODULES.items():
        for module, _, line in imported(path):
            if module in MODULES and room(module) != room(name) and RANK[room(module)] >= RANK[room(name)]:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {name} ({room(name) or 'seqlab'}) imports {module} ({room(module) or 'seqlab'})")
    assert not upward, f"imports from a layer that is not below: {upward}"


def test_every_module_imports():
    for name in MODULES:
        importlib.import_module(name)


def test_the_import_graph_has_no_cycle():
    graph = {name: sorted({m for m, _, _ in imported(path) if m in MODULES and m != name}) for name, path in MODULES.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [node, nxt]) if nxt in trail else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])
    assert not cycles, f"import cycles: {cycles}"


def test_no_underscored_name_is_imported_from_another_module():
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "scripts").rglob("*.py"), *(ROOT / "tests").glob("*.py")]
    private = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name.startswith("seqlab")}
        aliases |= {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("seqlab")
                    for a in n.names if f"{n.module}.{a.name}" in MODULES}
        for module, name, line in imported(path):
            if module.startswith("seqlab") and name and name.startswith("_") and not name.startswith("__"):
                private.append(f"{path.relative_to(ROOT)}:{line}: {module}.{name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                if node.attr.startswith("_") and not node.attr.startswith("__"):
                    private.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not private, f"underscored names used from another module: {private}"


def test_no_module_is_longer_than_the_limit():
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def code_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of the lines that carry code: not blank, not comments, not imports, not
    lone punctuation, not docstrings; whitespace folded."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            skip.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    out = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        folded = " ".join(text.split())
        if number in skip or not folded or folded.startswith("#") or all(ch in "()[]{},:;" for ch in folded):
            continue
        out.append((number, folded))
    return out


def test_no_block_of_code_is_written_twice():
    places: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for name, path in MODULES.items():
        lines = code_lines(path)
        for k in range(len(lines) - DUPLICATE_LINES + 1):
            window = "\n".join(text for _, text in lines[k : k + DUPLICATE_LINES])
            places[hashlib.sha1(window.encode()).hexdigest()].append((name, lines[k][0]))
    repeated = []
    for spots in places.values():
        distinct = [spots[0]] + [s for s in spots[1:] if s[0] != spots[0][0] or s[1] - spots[0][1] >= DUPLICATE_LINES]
        if len(distinct) > 1:
            repeated.append(" ~ ".join(f"{m}:{line}" for m, line in distinct))
    assert not repeated, f"blocks of {DUPLICATE_LINES} code lines written more than once: {repeated[:10]}"


def test_every_transformers_load_refuses_remote_code():
    """Each ``from_pretrained`` / ``from_config`` call in the package passes ``trust_remote_code=False``
    as a keyword: a model directory never runs code or asks on stdin whether it may."""
    lacking = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("from_pretrained", "from_config"):
                given = {k.arg: k.value for k in node.keywords}
                value = given.get("trust_remote_code")
                if not (isinstance(value, ast.Constant) and value.value is False):
                    lacking.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not lacking, lacking


def test_nothing_in_the_package_can_unpickle_or_run_text():
    """Loading a model must not be able to run code: no pickle, no ``torch.load`` (safetensors only), no
    ``eval``/``exec``."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import) and any(a.name in ("pickle", "dill", "marshal") for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: import")
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in ("eval", "exec"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {func.id}")
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and (func.value.id, func.attr) == ("torch", "load"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: torch.load")
    assert not offenders, offenders
