"""The sandbox image's content hash: the project files that go into it, hashed, so a stale image
is noticed before a job runs in it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

HASH_LABEL = "org.trainer-agent.content-hash"


# Top-level parts of the project copied into the image (the setuptools packages + metadata).
PROJECT_PARTS = ("agents", "skills", "sandbox", "configs", "pyproject.toml")


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def project_files(root: Path) -> Iterable[Path]:
    for part in PROJECT_PARTS:
        path = root / part
        if path.is_file():
            yield path
        elif path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
                    yield p


def content_hash(context: Path, base_image_id: str) -> str:
    """Hash of everything that decides the image: base image, Dockerfile, pins and project source."""
    h = hashlib.sha256(base_image_id.encode())
    for rel in ("Dockerfile", "requirements.txt"):
        h.update(rel.encode() + b"\0" + (context / rel).read_bytes())
    project = context / "project"
    for p in sorted(project.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(project)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def project_hash(root: Path = PROJECT_ROOT) -> str:
    """Hash of the project source alone, also stored as a label so staleness can be reported."""
    h = hashlib.sha256()
    for p in project_files(root):
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]
