"""Every command shown in the docs runs, as Typer tests its documentation examples.

The convention (docs/README in short): every ```bash block in README.md and docs/*.md is run by
this test, one bash session per document, in a scratch directory that looks like a checkout
(`.venv` and `configs` linked in, `trainer-agent` on PATH, `$TRAINER_AGENT_HOME` inside it).
A block whose first line is `# not run by tests: <why>` is skipped, and must say why. A command
expected to fail ends with a comment `# exit N`; every other command must exit 0. `runs/<id>`
stands for the first run directory made (run ids begin with their time), the README's example:
README.md runs first, and its example is the one real training run (about 30 s).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The order the sessions run in: the README makes the run, the user guide replays it before any
# other document resumes it (a resumed run's transcript holds a second conversation).
FIRST = ("user-guide.md", "run-directory.md", "configuration.md", "troubleshooting.md")
_pages = sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "HELPERS_COMMON.md")
DOCS = [
    ROOT / "README.md",
    *sorted(_pages, key=lambda p: (FIRST.index(p.name) if p.name in FIRST else len(FIRST), p.name)),
]
SKIP_MARK = "# not run by tests:"
EXPECT = re.compile(r"#\s*exits?\s+(\d+)\b")
RC_LINE = re.compile(r"^@@rc (\d+) (\d+)$", re.MULTILINE)
PLACEHOLDER = "runs/<id>"
FIRST_RUN = "runs/$(ls runs | head -n 1)"

pytestmark = pytest.mark.slow  # one real training run plus ~25 CLI calls (~90 s on 2 busy cores)


@dataclass
class Block:
    doc: Path
    line: int
    lines: list[str]
    skip_reason: str | None = None
    commands: list[tuple[str, int]] = field(default_factory=list)  # (command, expected exit code)


def bash_blocks(doc: Path) -> list[Block]:
    """The ```bash blocks of a Markdown file, with their commands and expected exit codes."""
    blocks: list[Block] = []
    current: Block | None = None
    for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
        fence = line.strip()
        if current is None:
            if fence.startswith("```bash"):
                current = Block(doc, n, [])
            continue
        if fence == "```":
            blocks.append(current)
            current = None
            continue
        current.lines.append(line)
    assert current is None, f"{doc.name}: unclosed ```bash block at line {blocks[-1].line if blocks else '?'}"
    for block in blocks:
        first = next((ln.strip() for ln in block.lines if ln.strip()), "")
        if first.startswith(SKIP_MARK):
            block.skip_reason = first.removeprefix(SKIP_MARK).strip()
        else:
            block.commands = commands_of(block.lines)
    return blocks


def commands_of(lines: list[str]) -> list[tuple[str, int]]:
    """Logical commands: `\\` continuations joined, heredocs kept whole, comments and blanks dropped."""
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [line]
        while parts[-1].rstrip().endswith("\\") and i < len(lines):
            parts.append(lines[i])
            i += 1
        heredoc = re.search(r"<<-?\s*'?(\w+)'?", parts[-1])
        if heredoc:
            end = heredoc.group(1)
            while i < len(lines):
                parts.append(lines[i])
                i += 1
                if parts[-1].strip() == end:
                    break
        command = "\n".join(parts)
        found = EXPECT.search(parts[0] if heredoc else parts[-1])
        out.append((command, int(found.group(1)) if found else 0))
    return out


def test_every_bash_block_is_run_or_says_why_not() -> None:
    seen = 0
    for doc in DOCS:
        for block in bash_blocks(doc):
            seen += 1
            where = f"{doc.relative_to(ROOT)}:{block.line}"
            if block.skip_reason is not None:
                assert len(block.skip_reason) >= 10, f"{where}: say why the block is not run"
            else:
                assert block.commands, f"{where}: a runnable block with no command"
    assert seen >= 20, "the docs show fewer commands than expected; is the parser right?"


def test_the_command_parser() -> None:
    lines = [
        "# a comment",
        'trainer-agent run "x" \\',
        "  --data d.csv   # exit 3",
        "cat > f.yaml <<'EOF'",
        "a: 1",
        "EOF",
        "",
        "ls runs/<id>",
    ]
    assert commands_of(lines) == [
        ('trainer-agent run "x" \\\n  --data d.csv   # exit 3', 3),
        ("cat > f.yaml <<'EOF'\na: 1\nEOF", 0),
        ("ls runs/<id>", 0),
    ]


def _session(workspace: Path, doc: Path) -> list[tuple[str, int, int, str]]:
    """Run a document's runnable commands in one bash session; (where, expected, got, output)."""
    cmds: list[tuple[str, str, int]] = []
    for block in bash_blocks(doc):
        for command, expected in block.commands:
            cmds.append((f"{doc.name}:{block.line}", command, expected))
    if not cmds:
        return []
    script = []
    for i, (_, command, _) in enumerate(cmds):
        command = command.replace(PLACEHOLDER, FIRST_RUN)
        script.append(f"{command}\nprintf '\\n@@rc {i} %d\\n' $?")
    env = {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "TRAINER_AGENT_HOME": str(workspace / ".trainer-agent"),
        "COLUMNS": "120",
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("OAI_CONFIG_LIST", None)
    env.pop("TRAINER_AGENT_LLM_CONFIG", None)
    proc = subprocess.run(
        ["bash", "-s"],
        input="\n".join(script) + "\n",
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    codes = {int(i): int(rc) for i, rc in RC_LINE.findall(proc.stdout)}
    chunks = RC_LINE.split(proc.stdout)
    results = []
    for i, (where, command, expected) in enumerate(cmds):
        got = codes.get(i, -1)
        text = chunks[i * 3] if i * 3 < len(chunks) else ""
        results.append((f"{where}: {command.splitlines()[0]}", expected, got, text[-1500:] or output[-1500:]))
    return results


@pytest.fixture(scope="module")
def doc_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[str, int, int, str]]]:
    workspace = tmp_path_factory.mktemp("docs")
    (workspace / ".venv").symlink_to(ROOT / ".venv")
    (workspace / "configs").symlink_to(ROOT / "configs")
    # README.md first: its example makes the run the other documents use.
    return {doc.name: _session(workspace, doc) for doc in DOCS}


@pytest.mark.parametrize("doc", [d.name for d in DOCS])
def test_doc_commands_exit_as_shown(doc: str, doc_runs: dict[str, list[tuple[str, int, int, str]]]) -> None:
    for where, expected, got, output in doc_runs[doc]:
        assert got == expected, f"{where}\nexpected exit {expected}, got {got}:\n{output}"


def test_a_session_reports_each_commands_exit_code(tmp_path: Path) -> None:
    doc = tmp_path / "page.md"
    doc.write_text(
        "```bash\nX=5\necho $X\nfalse\nfalse   # exit 1\n```\n\n"
        "```bash\n# not run by tests: a reason here\ntouch skipped-block-ran\n```\n"
    )
    results = _session(tmp_path, doc)
    assert [(r[1], r[2]) for r in results] == [(0, 0), (0, 0), (0, 1), (1, 1)]
    assert "5" in results[1][3], "variables carry over between the commands of a session"
    assert bash_blocks(doc)[1].skip_reason == "a reason here"
    assert not (tmp_path / "skipped-block-ran").exists()
