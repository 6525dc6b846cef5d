"""Which imports inside functions are needed: the static import graph of the project's modules.

An import sits inside a function for one reason: importing it at the top would make importing
its module load a third-party package that the module does not load today (torch, scikit-learn,
AG2...), which would slow `--help`, `status` or the service's start. Every other import belongs
at the top. `lazy_needed(...)` decides this from the source alone:

- `closure(M)`: the third-party packages importing M loads, through its top-level imports and
  those of the project modules it imports at the top (stdlib is free);
- an import of T inside a function of M is needed there exactly when closure(T) holds a package
  closure(M) does not (for a third-party T, closure(T) is T's top package), or when M is on the
  path of `trainer-agent --help` (`agents.cli`) and T is a project module outside it (each adds
  milliseconds: hoisting them all made --help 2.7x slower); an import inside a `try` (an optional
  package) or one that a test monkeypatches by name stays too.

    graph = ImportGraph.of(ROOT, ("agents", "skills", "sandbox", "configs"))
    movable = [imp for imp in graph.inner_imports() if not graph.lazy_needed(imp)]
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "trainer_agent"
# names tests replace with monkeypatch on the module that defines them: a caller must look them up
# at call time (an import inside the function), not bind them once at import time
PATCHED_NAMES = frozenset({"nvidia_gpus", "tensorrt_installed", "triage", "EPOCHS", "perf_counter"})
# modules run by path (`python3 sandbox/lockfile.py`, scripts/setup, before the venv exists): their
# folder comes first on sys.path, where sandbox/select.py shadows the stdlib's `select`, so they
# import at the top only what needs nothing of the stdlib that imports `select`
RUN_BY_PATH = frozenset({f"{PACKAGE}.sandbox.lockfile"})
HELP_PATH = f"{PACKAGE}.agents.cli"  # the command modules: all that `trainer-agent --help` imports


@dataclass(frozen=True)
class InnerImport:
    module: str  # the importing module
    path: Path
    node: ast.Import | ast.ImportFrom
    target: str  # the module imported (for `from pkg import sub`, pkg.sub when it is a module)
    in_try: bool
    names: tuple[str, ...]  # the names it binds


@dataclass
class ImportGraph:
    root: Path
    modules: dict[str, Path] = field(default_factory=dict)
    trees: dict[str, ast.Module] = field(default_factory=dict)
    top: dict[str, set[str]] = field(default_factory=dict)  # module -> modules imported at the top
    _closures: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, root: Path, folders: tuple[str, ...]) -> ImportGraph:
        graph = cls(root)
        for folder in folders:
            for path in sorted((root / folder).rglob("*.py")):
                parts = path.relative_to(root).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                graph.modules[".".join((PACKAGE, *parts))] = path
        for name, path in graph.modules.items():
            graph.trees[name] = ast.parse(path.read_text(), str(path))
        for name, tree in graph.trees.items():
            graph.top[name] = {t for node in _top_level_imports(tree) for t in graph._targets(name, node)}
        return graph

    def _targets(self, module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = node.module or ""
        if node.level:  # relative: resolve against the importing package
            package = module.split(".")
            if self.modules[module].name != "__init__.py":
                package = package[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in self.modules]
        return subs or [base]

    def closure(self, target: str) -> frozenset[str]:
        """The third-party top packages importing `target` loads (statically)."""
        if target not in self._closures:
            self._closures[target] = self._closure(target, set())
        return self._closures[target]

    def _closure(self, target: str, seen: set[str]) -> frozenset[str]:
        if target in seen:
            return frozenset()
        seen.add(target)
        if target not in self.modules:
            top = target.split(".")[0]
            if top == PACKAGE:  # a package folder without __init__ or a name in it
                return frozenset()
            return frozenset() if top in sys.stdlib_module_names else frozenset({top})
        found: set[str] = set()
        parents = target.split(".")
        for i in range(2, len(parents)):  # importing a.b.c imports a.b first
            found |= self._closure(".".join(parents[:i]), seen)
        for dep in self.top[target]:
            found |= self._closure(dep, seen)
        return frozenset(found)

    def inner_imports(self) -> list[InnerImport]:
        found: list[InnerImport] = []
        for name, tree in self.trees.items():
            for fn in ast.walk(tree):
                if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                tries = {id(n) for t in ast.walk(fn) if isinstance(t, ast.Try) for n in ast.walk(t)}
                for node in ast.walk(fn):
                    if isinstance(node, ast.Import | ast.ImportFrom) and _innermost(fn, node):
                        names = tuple(
                            (a.asname or (a.name.split(".")[0] if isinstance(node, ast.Import) else a.name))
                            for a in node.names
                        )
                        for target in self._targets(name, node):
                            found.append(
                                InnerImport(name, self.modules[name], node, target, id(node) in tries, names)
                            )
        return found

    def lazy_needed(self, imp: InnerImport) -> str | None:
        """Why `imp` must stay inside its function, or None when it belongs at the top."""
        if imp.in_try:
            return "inside try: an optional package"
        if imp.module in RUN_BY_PATH:
            return "its module is run by path, where a sibling shadows a stdlib module"
        if PATCHED_NAMES & set(imp.names):
            return "a test replaces this name on its module"
        if _on_help_path(imp.module) and imp.target in self.modules and not _on_help_path(imp.target):
            return f"at the top it would add {imp.target} to what --help imports"
        extra = self.closure(imp.target) - self.closure(imp.module)
        if extra:
            return "at the top it would load " + ", ".join(sorted(extra))
        return None


def _on_help_path(module: str) -> bool:
    return module == HELP_PATH or module.startswith(HELP_PATH + ".")


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported (module level, also under if/try; not under
    `if TYPE_CHECKING`)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
                    found.append(stmt)
            elif isinstance(stmt, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(stmt.test):
                    visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.Try):
                visit(stmt.body)
                for handler in stmt.handlers:
                    visit(handler.body)
                visit(stmt.orelse)
                visit(stmt.finalbody)
            elif isinstance(stmt, ast.With):
                visit(stmt.body)

    visit(tree.body)
    return found


def _innermost(fn: ast.AST, node: ast.AST) -> bool:
    """Whether `node` belongs to `fn` itself rather than to a function nested in it."""
    nested = (
        inner
        for inner in ast.walk(fn)
        if inner is not fn and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
    )
    return not any(n is node for inner in nested for n in ast.walk(inner))


def type_checking_only_used_at_run_time(tree: ast.Module) -> list[tuple[str, int]]:
    """(name, line) of names bound only under `if TYPE_CHECKING:` that code (not an annotation)
    reads: a NameError waiting to happen, since annotations are strings here but code is not."""
    typing_only: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            for node in ast.walk(stmt):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    typing_only |= {(a.asname or a.name).split(".")[0] for a in node.names}
    runtime = {
        (a.asname or a.name).split(".")[0] for node in _top_level_imports(tree) for a in node.names
    } | {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    runtime |= {
        (a.asname or a.name).split(".")[0]
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for a in node.names
    }
    suspects = typing_only - runtime
    annotations = {id(n) for holder in ast.walk(tree) for ann in _annotations(holder) for n in ast.walk(ann)}
    return [
        (n.id, n.lineno)
        for n in ast.walk(tree)
        if isinstance(n, ast.Name)
        and isinstance(n.ctx, ast.Load)
        and n.id in suspects
        and id(n) not in annotations
    ]


def _annotations(node: ast.AST) -> list[ast.AST]:
    found: list[ast.AST | None] = []
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        args = node.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        found += [a.annotation for a in every if a is not None] + [node.returns]
    elif isinstance(node, ast.AnnAssign):
        found.append(node.annotation)
    return [a for a in found if a is not None]
