"""The lock: the exact versions of every package the test suite last passed with.

    python -m trainer_agent.sandbox.lockfile check   # does this environment match the lock? (exit 1 if not)
    python -m trainer_agent.sandbox.lockfile interpreter  # is this Python the one the lock was tested on?
    python -m trainer_agent.sandbox.lockfile write        # write this environment's versions as the lock

With TRAINER_AGENT_LOCK=none (the lock's refresh) `check` and `interpreter` have nothing to check.

`constraints.txt` at the project root is a pip constraints file: `scripts/setup` installs with
`pip install -c constraints.txt -e '.[dev]'`, so the test suite, CI, the demo, the benchmarks and
the sandbox image (built from the venv's own versions, `sandbox/image.py`) all run exactly what was
tested. `pyproject.toml` keeps the library's ranges for people who `pip install trainer-agent`.
`scripts/fresh_test --newest` refreshes the lock: the newest releases within those ranges, the
whole suite on them in a fresh copy, and a new lock only if it passes.

Why pins read off a tested venv (`pip freeze`'s content, written by `write`) and not a resolver's
lock (`uv pip compile`, `pip-compile`): the lock must hold what the suite actually ran with, and on
these machines only pip takes the CPU build of torch that lies on disk; uv and pip-compile's
resolution would name a CUDA build that was never tested. The lock is for one interpreter (its
header names it) and Linux; `interpreter` says so in one sentence on another Python.

`interpreter` needs only the standard library: it runs before the venv exists.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import re
import sys
from pathlib import Path

PROJECT_DIST = "trainer-agent"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCK = PROJECT_ROOT / "constraints.txt"
# The extras whose closure the lock must cover (scripts/setup installs dev and pretrained;
# scripts/bench/run_all bench).
LOCKED_EXTRAS = ("dev", "bench", "pretrained")
# pip comes with the venv and the project is this checkout. setuptools stays in: torch needs it at
# run time, so the sandbox image installs it too.
UNLOCKED = frozenset({"pip", PROJECT_DIST})
_PYTHON_LINE = re.compile(r"^#\s*python:\s*(\d+\.\d+)")


def norm(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """`{normalised name: version}` from a constraints file of `name==version` lines."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not version.strip():
            raise ValueError(f"{path}: '{raw.strip()}' is not a 'name==version' pin")
        pins[norm(name)] = version.strip()
    return pins


def lock_python(path: Path = LOCK) -> str | None:
    """The `major.minor` Python the lock was tested on (its `# python: X.Y` header line)."""
    for line in path.read_text().splitlines():
        m = _PYTHON_LINE.match(line)
        if m:
            return m.group(1)
    return None


def installed() -> dict[str, tuple[str, str]]:
    """`{normalised name: (name, version)}` of every distribution in this environment but the
    packaging tools and the project itself."""
    from importlib import metadata

    found: dict[str, tuple[str, str]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and norm(name) not in UNLOCKED:
            found.setdefault(norm(name), (name, dist.version))
    return found


def closure(dist_name: str = PROJECT_DIST, extras: tuple[str, ...] = ()) -> dict[str, tuple[str, str]]:
    """`{normalised name: (name, version)}` of everything `dist_name[extras]` needs, as installed here.

    Walks the installed metadata from the project's `Requires-Dist`, honouring extras
    (`autogen[openai,docker]`) and environment markers; requirements that are not installed (an
    extra nobody asked for, a marker for another platform) are left out.
    """
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: dict[str, tuple[str, str]] = {}
    todo: list[tuple[str, frozenset[str]]] = [(dist_name, frozenset(extras))]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, want = todo.pop()
        if (norm(name), want) in done:
            continue
        done.add((norm(name), want))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if norm(name) != norm(dist_name):
            seen[norm(dist.metadata["Name"])] = (dist.metadata["Name"], dist.version)
        for line in dist.requires or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in want] or [{"extra": ""}]
            if req.marker is not None and not any(req.marker.evaluate(env) for env in envs):
                continue
            todo.append((req.name, frozenset(req.extras)))
    return seen


def differences(lock: dict[str, str], have: dict[str, tuple[str, str]], needed: set[str]) -> list[str]:
    """What keeps `have` from being the lock, among the packages the project needs (`needed`,
    normalised names): one at another version than the lock's, or one the lock does not pin.
    Anything else installed beside them is not the project's business."""
    out = []
    for key, (name, version) in sorted(have.items()):
        if key not in needed:
            continue
        if key not in lock:
            out.append(f"{name} {version} (not in the lock)")
        elif lock[key] != version:
            out.append(f"{name} {version} (the lock has {lock[key]})")
    return out


def check_pins(pins: list[str], path: Path = LOCK) -> list[str]:
    """The pins (`name==version`) that disagree with the lock; [] when all agree."""
    lock = read_lock(path)
    have = {norm(n): (n, v) for n, _, v in (p.partition("==") for p in pins)}
    return differences(lock, have, needed=set(have))


def render(have: dict[str, tuple[str, str]], command: str) -> str:
    """The lock file's text: a header that says what it is, then one pin a line."""
    today = _dt.date.today().isoformat()
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    head = [
        "# The exact versions the whole test suite (./scripts/test) passed with: pip constraints,",
        "# installed by scripts/setup (`pip install -c constraints.txt`), so CI, the demo, the",
        "# benchmarks and the sandbox image run what was tested. pyproject.toml keeps the ranges.",
        f"# Written by `{command}` on {today}. To refresh: `scripts/fresh_test --newest` (newest",
        "# releases within the ranges, the whole suite on them, and only then this file).",
        f"# python: {py} ({platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.machine()})",
    ]
    body = [f"{name}=={version}" for _, (name, version) in sorted(have.items())]
    return "\n".join(head + body) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer_agent.sandbox.lockfile", description=__doc__.splitlines()[0]
    )
    parser.add_argument("cmd", choices=["check", "interpreter", "write"])
    parser.add_argument("--lock", type=Path, default=LOCK, help="the constraints file (default: %(default)s)")
    parser.add_argument(
        "--by",
        default="python -m trainer_agent.sandbox.lockfile write",
        help="the command named in the file's header",
    )
    args = parser.parse_args(argv)
    lock_path: Path = args.lock
    if args.cmd != "write" and os.environ.get("TRAINER_AGENT_LOCK") == "none":
        print("lock: none in use (TRAINER_AGENT_LOCK=none: the newest releases, untested)", file=sys.stderr)
        return 0
    if args.cmd == "write":
        lock_path.write_text(render(installed(), args.by))
        print(f"lock: wrote {len(read_lock(lock_path))} pins to {lock_path}")
        return 0
    if not lock_path.is_file():
        print(f"lock: {lock_path} does not exist (scripts/fresh_test --newest writes one)", file=sys.stderr)
        return 1
    if args.cmd == "interpreter":
        want, have = lock_python(lock_path), f"{sys.version_info.major}.{sys.version_info.minor}"
        if want and want != have:
            print(
                f"lock: {lock_path.name} was tested on Python {want} and this is Python {have}; use "
                f"Python {want} (PYTHON=python{want} ./scripts/setup), or TRAINER_AGENT_LOCK=none for "
                "the newest releases within pyproject.toml's ranges, untested",
                file=sys.stderr,
            )
            return 1
        return 0
    needed = set(closure(PROJECT_DIST, LOCKED_EXTRAS))
    wrong = differences(read_lock(lock_path), installed(), needed)
    if wrong:
        print(
            f"lock: this environment differs from {lock_path.name} in {len(wrong)} package(s): "
            + "; ".join(wrong[:8])
            + ("; …" if len(wrong) > 8 else ""),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
