"""Imports sit at the top of a module unless importing them there would slow something down.

The rule and its analysis are in tests/import_layout.py; `python3 ../shared/tools/import_cycles.py`
checks the other half (no import cycles, counting imports inside functions).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.import_layout import HELP_PATH, ImportGraph, type_checking_only_used_at_run_time

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("agents", "skills", "sandbox", "configs")
HEAVY = ("autogen", "numpy", "pandas", "sklearn", "torch", "onnx", "onnxruntime", "pydantic", "fastapi")


def test_every_import_inside_a_function_keeps_a_heavy_package_or_the_help_path_out() -> None:
    graph = ImportGraph.of(ROOT, FOLDERS)
    movable = [
        f"{imp.path.relative_to(ROOT)}:{imp.node.lineno} imports {imp.target}"
        for imp in graph.inner_imports()
        if graph.lazy_needed(imp) is None
    ]
    assert not movable, "these imports belong at the top of their module:\n" + "\n".join(movable)


def test_help_imports_the_command_modules_and_typer_only() -> None:
    probe = (
        "import sys, trainer_agent.agents.cli.main;"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('trainer_agent.'))));"
        f"print(' '.join(sorted(h for h in {HEAVY!r} if h in sys.modules)))"
    )
    project, heavy = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    outside = [
        m for m in project.split() if m not in ("trainer_agent.agents",) and not m.startswith(HELP_PATH)
    ]
    assert outside == []
    assert heavy == ""


def _tree(tmp_path: Path, files: dict[str, str]) -> ImportGraph:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return ImportGraph.of(tmp_path, ("skills",))


def test_the_analysis_tells_a_needed_lazy_import_from_a_movable_one(tmp_path: Path) -> None:
    graph = _tree(
        tmp_path,
        {
            "skills/__init__.py": "",
            "skills/light.py": """
                import json

                def f():
                    import numpy            # heavy, light.py does not load it: stays
                    from trainer_agent.skills import heavy   # loads numpy through heavy.py: stays
                    import re               # stdlib: belongs at the top
                    try:
                        import lightgbm     # optional: stays
                    except ImportError:
                        pass
            """,
            "skills/heavy.py": """
                import numpy as np

                def g():
                    import numpy            # already loaded at the top: belongs there
                    from trainer_agent.skills import light   # adds nothing: belongs at the top
            """,
        },
    )
    verdicts = {
        (imp.module.rsplit(".", 1)[-1], imp.target): graph.lazy_needed(imp) for imp in graph.inner_imports()
    }
    assert verdicts[("light", "numpy")] == "at the top it would load numpy"
    assert verdicts[("light", "trainer_agent.skills.heavy")] == "at the top it would load numpy"
    assert verdicts[("light", "lightgbm")] == "inside try: an optional package"
    assert verdicts[("light", "re")] is None
    assert verdicts[("heavy", "numpy")] is None
    assert verdicts[("heavy", "trainer_agent.skills.light")] is None


def test_no_name_imported_for_type_checking_only_is_used_at_run_time() -> None:
    graph = ImportGraph.of(ROOT, FOLDERS)
    found = [
        f"{graph.modules[name].relative_to(ROOT)}:{line} uses {used}"
        for name, tree in graph.trees.items()
        for used, line in type_checking_only_used_at_run_time(tree)
    ]
    assert not found, "imported under TYPE_CHECKING only, used at run time:\n" + "\n".join(found)
