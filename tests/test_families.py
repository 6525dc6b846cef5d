"""The family table (skills/model/families.py): it names exactly the catalog's implemented families, a
family module imports no other family module (read from the source, imports inside functions too),
and a saved net finds its kind again."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Every module name an import statement of `path` may refer to (`from a import b`: a and a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def _module_file(name: str) -> Path | None:
    """The source file of a project module (its install name's trainer_agent. prefix dropped)."""
    name = name.removeprefix("trainer_agent.")
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def cross_family_imports(family_modules: list[str], table: str = "") -> list[str]:
    """'a -> b (via c, d)' for each family module a that reaches another family module b, or the
    table, directly or through the project's other modules."""
    found = []
    for start in family_modules:
        seen, todo = {start: [start]}, [start]
        while todo:
            name = todo.pop()
            path = _module_file(name)
            if path is None:
                continue
            for target in sorted(_imports(path)):
                if _module_file(target) is None or target in seen:
                    continue
                seen[target] = [*seen[name], target]
                if target in family_modules or target == table:
                    chain = seen[target][1:-1]
                    found.append(f"{start} -> {target}" + (f" (via {', '.join(chain)})" if chain else ""))
                else:
                    todo.append(target)
    return sorted(found)


def test_no_family_module_imports_another_or_the_table() -> None:
    from trainer_agent.skills.model.families import FAMILY_MODULES

    modules = sorted(set(FAMILY_MODULES))
    assert len(modules) == 9 and all(_module_file(m) for m in modules)
    assert cross_family_imports(modules, "trainer_agent.skills.model.families") == []


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself: an import hidden in a function body, through a helper, is found."""
    pkg = tmp_path / "fam"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from fam import helper\n")
    (pkg / "helper.py").write_text("import fam.b\n")
    (pkg / "b.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert cross_family_imports(["fam.a", "fam.b"]) == ["fam.a -> fam.b (via fam.helper)"]


def test_the_table_names_exactly_the_implemented_catalog_families() -> None:
    from trainer_agent.skills.model.families import FAMILIES, family
    from trainer_agent.skills.model.model_catalog import load_catalog

    catalog = {(c.name, task) for task, cands in load_catalog().items() for c in cands if c.implemented}
    registered = {(name, t.value) for rec in FAMILIES for name in rec.names for t in rec.tasks}
    names = [name for rec in FAMILIES for name in rec.names]
    assert len(names) == len(set(names)), "a family is registered twice"
    assert {n for n, _ in catalog} == set(names)
    assert catalog <= registered, sorted(catalog - registered)  # each under a task it takes
    for cand in (c for cands in load_catalog().values() for c in cands):
        rec = family(cand.name)
        # the catalog's framework says how it is built; the record's, how it is stored
        assert rec.framework == ("sklearn" if cand.framework == "sklearn" else "torch"), cand.name
        assert (rec.to_onnx is not None) >= cand.exportable, cand.name
    with pytest.raises(KeyError, match="no-such-family"):
        family("no-such-family")


def test_a_saved_text_net_is_loaded_and_predicted_through_its_kind(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from trainer_agent.skills.model.families import for_model, load_model, save_model
    from trainer_agent.skills.model.text_net import TextNetConfig
    from trainer_agent.skills.model.torch_text import make_net
    from trainer_agent.skills.specs import TaskType

    task = TaskType.TEXT_CLASSIFICATION
    config = TextNetConfig(arch="cnn", vocab=["good", "bad"], labels=["neg", "pos"], embed=4, hidden=4)
    net = make_net(config).eval()
    path, size = save_model((net, config), "torch", task, tmp_path)
    assert path.name == "model.pt" and size == path.stat().st_size > 0
    loaded = load_model(path, task)
    family = for_model(task, "torch", loaded)
    assert family.kind == "torch-text" and family.names == ("torch-text-bag", "torch-text-cnn")
    (want, want_p), (got, got_p) = (family.predict(m, ["good", "bad day"]) for m in ((net, config), loaded))
    assert list(got) == list(want) and abs(got_p - want_p).max() == 0
    assert for_model(task, "torch", arch="transformer").kind == "hf-text"
    assert for_model(TaskType.IMAGE_CLASSIFICATION, "torch", arch="cnn").kind == "image-cnn"
    assert for_model(TaskType.TABULAR_REGRESSION, "sklearn").kind == "tabular"
    with pytest.raises(ValueError, match="arch 'lstm'"):
        for_model(task, "torch", arch="lstm")
