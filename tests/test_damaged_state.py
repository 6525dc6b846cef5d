"""A truncated or damaged state.json is one sentence and exit 1 for resume, status and serve,
never a traceback; and the file is written durably in the first place (agents/run_state.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.conftest_models import as_run, trained
from trainer_agent.agents.run_state import Run, read_state
from trainer_agent.skills.errors import UserError


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = as_run(trained("wine_mixed", export=True), tmp_path_factory.mktemp("damaged") / "run")
    state = json.loads((run_dir / "state.json").read_text())
    state["options"] = {"request": "Predict the cultivar", "sandbox": "local", "llm": "offline"}
    (run_dir / "state.json").write_text(json.dumps(state, indent=2))
    return run_dir


def _damaged(whole_run: Path, tmp_path: Path, text: str | bytes) -> Path:
    run_dir = Path(shutil.copytree(whole_run, tmp_path / "run"))
    path = run_dir / "state.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return run_dir


def _half(whole_run: Path) -> str:
    text = (whole_run / "state.json").read_text()
    return text[: len(text) // 2]


@pytest.mark.parametrize(
    "damage, fragment",
    [
        ("truncated", "is damaged ("),
        ("empty", "is damaged (Expecting value at line 1, column 1: truncated or edited?)"),
        ("binary", "is damaged (not UTF-8 text)"),
        ("a list", "is damaged (not a JSON object)"),
    ],
)
@pytest.mark.parametrize("command", ["resume", "status", "serve"])
def test_a_damaged_state_is_one_sentence(
    whole_run: Path, tmp_path: Path, command: str, damage: str, fragment: str
) -> None:
    text = {"truncated": _half(whole_run), "empty": "", "binary": b"\xff\xfe\x00{", "a list": "[1, 2]"}[
        damage
    ]
    run_dir = _damaged(whole_run, tmp_path, text)
    result = run_cli(command, str(run_dir))
    assert result.code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"'{run_dir / 'state.json'}' {fragment}" in result.stderr
    assert "restore it or start a new run" in result.stderr
    assert not (run_dir / "service" / "service.json").exists()  # serve started nothing


def test_resume_of_a_state_without_its_options_is_one_sentence(whole_run: Path, tmp_path: Path) -> None:
    state = json.loads((whole_run / "state.json").read_text())
    del state["options"]
    run_dir = _damaged(whole_run, tmp_path, json.dumps(state))
    result = run_cli("resume", str(run_dir))
    assert result.code == 1 and "Traceback" not in result.stderr
    assert "is damaged (no options); the run cannot be resumed: restore the file" in result.stderr
    state["options"] = {"request": "r", "no_such_option": 1}
    (run_dir / "state.json").write_text(json.dumps(state))
    with pytest.raises(UserError, match="is damaged \\(unknown option 'no_such_option'\\)"):
        Run.load(run_dir)


def test_status_of_a_state_edited_out_of_shape_still_answers(whole_run: Path, tmp_path: Path) -> None:
    state = json.loads((whole_run / "state.json").read_text())
    state["steps"] = ["not", "a", "dict"]
    run_dir = _damaged(whole_run, tmp_path, json.dumps(state))
    result = run_cli("status", str(run_dir))
    assert result.code == 3 and "not running: no service recorded" in result.stdout, result.stderr


def test_read_state_of_a_whole_file(whole_run: Path) -> None:
    assert read_state(whole_run)["steps"]["export"]["status"] == "done"
    assert Run.load(whole_run).options.request == "Predict the cultivar"
