"""A full disk under --out is one sentence (exit 1), never a traceback, and leaves the run
consistent: state.json whole (its last good version), no state.json.tmp; after space is freed,
resume finishes the run with the decision, model and metrics of a run that never hit a full disk,
and no process of it is left. The disk is a real tmpfs of a few KB to a MB, mounted in a private
mount namespace (`unshare -rm`), so every write the run makes can hit ENOSPC for real."""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, processes_naming, run_cli
from trainer_agent.agents.run_state import Run, RunOptions
from trainer_agent.skills.errors import DiskFull, UserError

REQUEST = "Tell whether a review is great. Accuracy at least 70%, under 1M parameters"
# a count budget (one trial, one epoch), so the clean run and a resumed one train the same model on any load
FAST = ("--sandbox", "local", "--llm", "offline", "--max-trials", "1", "--max-epochs", "1", "--json")


def _namespace_works(tmp: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    (tmp / "probe").mkdir()
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(tmp / 'probe'))}"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


def _on_small_disk(tmp: Path, size: str, command: list[str], resume: bool) -> dict:
    """Run the CLI `command` with --out on a tmpfs of `size`; with `resume`, then grow the tmpfs to
    64 MB and resume the run directory left there. Returns each command's exit code and output,
    and a copy of what the tmpfs held (it goes with the namespace)."""
    out, failed, after = tmp / "disk", tmp / "failed", tmp / "after"
    for folder in (out, failed, after):
        folder.mkdir()
    python = f"PYTHONWARNINGS=ignore {shlex.quote(sys.executable)} -m trainer_agent.agents.cli"
    disk = shlex.quote(str(out))

    def cli(args: str, name: str) -> str:
        log = shlex.quote(str(tmp / name))
        return f"{python} {args} > {log}.out 2> {log}.err; echo $? > {log}.rc"

    words = " ".join(shlex.quote(a) for a in command) + f" --out {disk}"
    script = f"mount -t tmpfs -o size={size} tmpfs {disk} && {{ {cli(words, 'first')}; "
    script += f"cp -a {disk}/. {shlex.quote(str(failed))}/; "
    if resume:
        script += f"mount -o remount,size=64m {disk}; "
        script += cli(f'resume "$(ls -d {disk}/*/ | head -n 1)" --json', "then") + "; "
        script += f"cp -a {disk}/. {shlex.quote(str(after))}/; "
    script += "}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ROOT, env=env, timeout=500, check=True)
    result: dict = {"failed": failed, "after": after}
    for name in ("first", "then"):
        if (tmp / f"{name}.rc").exists():
            result[name] = {
                "code": int((tmp / f"{name}.rc").read_text()),
                "stdout": (tmp / f"{name}.out").read_text(),
                "stderr": (tmp / f"{name}.err").read_text(),
            }
    return result


@pytest.fixture(scope="module")
def clean(fine_foods_small: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same run on a disk with room: what a resumed run must end as."""
    train, test = fine_foods_small
    out = tmp_path_factory.mktemp("clean")
    result = run_cli("run", REQUEST, "--data", str(train), "--test-data", str(test), "--out", str(out), *FAST)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def small_disks(tmp_path: Path) -> Path:
    if not _namespace_works(tmp_path):
        pytest.skip("cannot mount a tmpfs in a private mount namespace here (unshare -rm)")
    return tmp_path


def _assert_one_sentence(stderr: str, fragment: str) -> None:
    assert "Traceback" not in stderr, stderr
    lines = [x for x in stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], stderr


@pytest.mark.parametrize(
    "size, then, resume",
    [
        ("4k", "run the command again", False),  # the run directory cannot even be set up
        ("8k", "continue with: trainer-agent resume", False),  # its first state.json, then nothing
        ("400k", "continue with: trainer-agent resume", True),  # the data step, in process
        ("1200k", "continue with: trainer-agent resume", True),  # a later sandbox job (export)
    ],
)
def test_a_full_disk_is_one_sentence_and_resume_finishes_after_space_is_freed(
    small_disks: Path, fine_foods_small: tuple[Path, Path], clean: dict, size: str, then: str, resume: bool
) -> None:
    train, test = fine_foods_small
    run = ["run", REQUEST, "--data", str(train), "--test-data", str(test), *FAST]
    resumable = then.startswith("continue")
    result = _on_small_disk(small_disks, size, run, resume=resume)
    assert processes_naming(str(small_disks)) == []  # no job or service of the run is left
    first = result["first"]
    assert first["code"] == 1, first["stderr"]
    assert first["stdout"] == ""
    _assert_one_sentence(first["stderr"], "no space left on the device that holds")
    assert then in first["stderr"]
    runs = [p for p in result["failed"].iterdir() if p.is_dir()]
    assert len(runs) <= 1
    for run_dir in runs:
        assert not list(run_dir.rglob("*.tmp")), "a temporary file was left behind"
        assert (run_dir / "state.json").exists() == resumable
    if resumable:
        [run_dir] = runs
        state = json.loads((run_dir / "state.json").read_text())  # whole: its last good version
        assert state["status"] in ("running", "failed")
    if resume:
        resumed = result["then"]
        assert resumed["code"] == 0, resumed["stderr"]
        state = json.loads((result["after"] / run_dir.name / "state.json").read_text())
        assert state["status"] == "finished" and all(s["status"] == "done" for s in state["steps"].values())
        report = json.loads(resumed["stdout"])
        for key in ("decision", "metrics", "requirements"):
            assert report[key] == clean[key], key
        assert {k: report["model"][k] for k in ("family", "params")} == {
            k: clean["model"][k] for k in ("family", "params")
        }


def test_state_writes_that_fail_keep_the_last_state_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Run.create(tmp_path, RunOptions(request="r"))
    before = (run.run_dir / "state.json").read_text()
    run.state["status"] = "changed"

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFull, match=f"no space left on the device that holds '{run.run_dir}'"):
        run.save()
    assert (run.run_dir / "state.json").read_text() == before
    assert not (run.run_dir / "state.json.tmp").exists()
    monkeypatch.setattr(
        os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system"))
    )
    with pytest.raises(UserError, match="cannot write '.*state.json': Read-only file system"):
        run.save()
    assert not (run.run_dir / "state.json.tmp").exists()
