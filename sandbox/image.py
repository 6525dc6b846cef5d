"""Build the sandbox image without any container registry.

Run with the project's venv Python (its installed packages define the image's):

    .venv/bin/python -m trainer_agent.sandbox.image build [--force] [--base-image python:3.11-slim-bookworm]
    scripts/build_sandbox_image            # the same, via the venv
    .venv/bin/python -m trainer_agent.sandbox.image check   # engine, image, runtimes, GPUs (JSON)

Steps, each skipped when its output is already there:
1. base image: `debootstrap --variant=minbase bookworm` + `docker import` (or `--base-image`, an
   image you already have or can pull, e.g. `python:3.11-slim-bookworm` where registries answer);
2. requirements: the runtime dependency closure of `trainer-agent` as installed in this venv,
   pinned to the installed versions (dev tools such as pytest/ruff/mypy are not in the closure),
   which must agree with the lock, `constraints.txt` (`sandbox/lockfile.py`), unless
   TRAINER_AGENT_LOCK=none (the lock's refresh, `scripts/fresh_test --newest`);
3. wheelhouse: `pip download --no-deps` of those pins into a cache folder on the host;
4. build context: Dockerfile + requirements + wheelhouse + the project source;
5. `docker build` (legacy builder through the SDK; the image installs with `--no-index`), skipped
   when an image with the same content-hash label exists.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from trainer_agent.sandbox.image_hash import (
    HASH_LABEL,
    PROJECT_ROOT,
    content_hash,
    project_files,
    project_hash,
)
from trainer_agent.sandbox.lockfile import LOCK, check_pins, closure

DEFAULT_IMAGE = "trainer-agent-sandbox:latest"
DEFAULT_BASE_IMAGE = "trainer-agent-base:bookworm"
PROJECT_DIST = "trainer-agent"
DEBIAN_MIRROR = "http://deb.debian.org/debian"


def cache_dir() -> Path:
    """Where the wheelhouse and the build context live (`TRAINER_AGENT_CACHE` overrides)."""
    root = os.environ.get("TRAINER_AGENT_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "trainer-agent"
    )
    return Path(root)


RUNTIME_EXTRAS = ("pretrained",)  # where installed: the model library's packages run in the sandbox too


def runtime_requirements(dist_name: str = PROJECT_DIST) -> list[str]:
    """Pins (`name==version`) of everything `dist_name` needs at run time, as installed here, with
    the `pretrained` extra when it is installed (its model packages are found offline inside the
    sandbox as outside); dev tools such as pytest, ruff and mypy are not in the closure."""

    pins = closure(dist_name, RUNTIME_EXTRAS).values()
    return sorted((f"{n}=={v}" for n, v in pins), key=str.lower)


def _wheel_file(pin: str, wheelhouse: Path) -> Path | None:
    """The wheel in `wheelhouse` for `name==version`, if there is one."""
    from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
    from packaging.version import Version

    name, version = pin.split("==")
    want = (canonicalize_name(name), Version(version))
    for p in wheelhouse.glob("*.whl"):
        try:
            wname, wversion, _, _ = parse_wheel_filename(p.name)
        except InvalidWheelFilename:
            continue
        if (wname, wversion) == want:
            return p
    return None


def fill_wheelhouse(pins: list[str], wheelhouse: Path, log: Callable[[str], None] = print) -> None:
    """Download (or build) a wheel for each pin into `wheelhouse`, skipping those already there."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    missing = [p for p in pins if _wheel_file(p, wheelhouse) is None]
    if not missing:
        log(f"wheelhouse: all {len(pins)} wheels present in {wheelhouse}")
        return
    log(f"wheelhouse: fetching {len(missing)} of {len(pins)} wheels into {wheelhouse}")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(missing) + "\n")
        req_file = f.name
    try:
        # `pip wheel` takes wheels as they are and builds any sdist, so the image needs no compiler.
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-r", req_file, "-w", str(wheelhouse)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"pip wheel failed:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
    finally:
        os.unlink(req_file)


def copy_project(root: Path, dest: Path) -> None:
    """Copy the project's packages into `dest` (replacing what was there)."""
    if dest.exists():
        shutil.rmtree(dest)
    for src in project_files(root):
        target = dest / src.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def ensure_base_image(client, base_image: str, log: Callable[[str], None] = print) -> str:
    """Return the id of `base_image`, making it with debootstrap + docker import when missing."""
    import docker

    try:
        return client.images.get(base_image).id
    except docker.errors.ImageNotFound:
        pass
    if base_image != DEFAULT_BASE_IMAGE:
        log(f"base image: pulling {base_image}")
        return client.images.pull(base_image).id
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not os.path.exists(debootstrap):
        raise RuntimeError("debootstrap is not installed; run scripts/setup_docker first.")
    mirror = os.environ.get("SANDBOX_DEBIAN_MIRROR", DEBIAN_MIRROR)
    with tempfile.TemporaryDirectory(prefix="sandbox-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"base image: debootstrap --variant=minbase bookworm from {mirror} (a few minutes)")
        t0 = time.monotonic()
        subprocess.run(
            [debootstrap, "--variant=minbase", "bookworm", str(rootfs), mirror],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # Keep the rootfs small: downloaded .debs and apt lists are not needed in the image.
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (rootfs / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        log(f"base image: rootfs ready in {time.monotonic() - t0:.0f} s; importing as {base_image}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        repo, _, tag = base_image.partition(":")
        image = client.images.get(_docker_import(client, tar.stdout, repo, tag or "latest"))
        tar.wait()
        if tar.returncode != 0:
            raise RuntimeError("tar of the debootstrap rootfs failed")
    return image.id


def _docker_import(client, stream, repo: str, tag: str) -> str:
    """`docker import` from a tar stream through the API; returns the new image id."""

    res = client.api.import_image_from_stream(stream, repository=repo, tag=tag, changes=['CMD ["/bin/bash"]'])
    for line in res.splitlines() if isinstance(res, str) else [res]:
        try:
            status = json.loads(line).get("status", "")
        except (ValueError, AttributeError):
            continue
        if status.startswith("sha256:"):
            return status
    return f"{repo}:{tag}"


def find_image_with_hash(client, image: str, digest: str):
    """The image tagged `image` if its content-hash label is `digest`, else None."""
    import docker

    try:
        img = client.images.get(image)
    except docker.errors.ImageNotFound:
        return None
    return img if (img.labels or {}).get(HASH_LABEL) == digest else None


def build_image(
    image: str = DEFAULT_IMAGE,
    base_image: str = DEFAULT_BASE_IMAGE,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """Build (or reuse) the sandbox image; returns what was done with timings and size."""
    import docker

    t0 = time.monotonic()
    client = docker.from_env(timeout=600)
    base_id = ensure_base_image(client, base_image, log)
    t_base = time.monotonic() - t0

    ctx = cache_dir() / "build-context"
    ctx.mkdir(parents=True, exist_ok=True)
    pins = runtime_requirements()
    _check_lock(pins)
    (ctx / "requirements.txt").write_text("\n".join(pins) + "\n")
    fill_wheelhouse(pins, cache_dir() / "wheelhouse", log)
    # The context gets hard links to exactly the pinned wheels: one copy on disk, no stale versions.
    wheels = [_wheel_file(p, cache_dir() / "wheelhouse") for p in pins]
    if None in wheels:
        raise RuntimeError(
            "the wheelhouse lacks a wheel for: "
            + ", ".join(p for p, w in zip(pins, wheels, strict=True) if w is None)
        )
    _link_files([w for w in wheels if w is not None], ctx / "wheelhouse")
    shutil.copy2(Path(__file__).with_name("Dockerfile"), ctx / "Dockerfile")
    copy_project(PROJECT_ROOT, ctx / "project")
    (ctx / ".dockerignore").write_text("**/__pycache__\n")
    digest = content_hash(ctx, base_id)
    t_prep = time.monotonic() - t0 - t_base

    existing = None if force else find_image_with_hash(client, image, digest)
    if existing is not None:
        log(f"image: {image} is up to date (content hash {digest})")
        built = False
    else:
        log(f"image: building {image} (content hash {digest})")
        labels = {HASH_LABEL: digest, "org.trainer-agent.project-hash": project_hash()}
        for chunk in client.api.build(
            path=str(ctx),
            tag=image,
            buildargs={"BASE_IMAGE": base_image},
            labels=labels,
            rm=True,
            forcerm=True,
            decode=True,
        ):
            if "stream" in chunk and chunk["stream"].strip():
                log(chunk["stream"].rstrip())
            if "error" in chunk:
                raise RuntimeError(f"docker build failed: {chunk['error'].strip()}")
        built = True
        # Superseded builds of the sandbox image (untagged now) only take disk space.
        with contextlib.suppress(Exception):
            client.images.prune(filters={"dangling": True, "label": HASH_LABEL})
    img = client.images.get(image)
    return {
        "image": image,
        "built": built,
        "content_hash": digest,
        "size_bytes": int(img.attrs.get("Size", 0)),
        "packages": len(pins),
        "seconds_base": round(t_base, 1),
        "seconds_prepare": round(t_prep, 1),
        "seconds_total": round(time.monotonic() - t0, 1),
    }


def _check_lock(pins: list[str]) -> None:
    """The image gets what the suite was tested with: refuse pins that disagree with the lock."""

    lock = os.environ.get("TRAINER_AGENT_LOCK") or str(LOCK)
    if lock == "none":
        return
    wrong = check_pins(pins, Path(lock))
    if wrong:
        raise RuntimeError(
            f"this venv's packages differ from the lock {lock} ({'; '.join(wrong[:5])}): run scripts/setup"
        )


def _link_files(files: list[Path], dest: Path) -> None:
    """Make `dest` hold exactly `files`, as hard links where possible (copies across filesystems)."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in files}
    for p in dest.iterdir():
        if p.name not in wanted:
            p.unlink()
    for name, src in wanted.items():
        target = dest / name
        if target.exists():
            continue
        try:
            os.link(src, target)
        except OSError:
            shutil.copy2(src, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trainer_agent.sandbox.image", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the sandbox image (skipped when up to date)")
    b.add_argument("--image", default=DEFAULT_IMAGE)
    b.add_argument("--base-image", default=DEFAULT_BASE_IMAGE)
    b.add_argument("--force", action="store_true", help="rebuild even when the content hash matches")
    sub.add_parser("requirements", help="print the pinned runtime requirements")
    sub.add_parser("check", help="report engine, image, runtimes and GPUs as JSON")
    args = parser.parse_args(argv)
    if args.cmd == "requirements":
        print("\n".join(runtime_requirements()))
        return 0
    if args.cmd == "check":
        from trainer_agent.sandbox.config import load_config
        from trainer_agent.sandbox.select import check

        print(json.dumps(check(load_config()), indent=2))
        return 0
    try:
        info = build_image(args.image, args.base_image, args.force)
    except RuntimeError as e:
        print(f"sandbox image: {e}", file=sys.stderr)
        return 1
    size_gib = int(info["size_bytes"]) / 2**30  # type: ignore[call-overload]
    print(
        f"image: {info['image']} {'built' if info['built'] else 'reused'}, {size_gib:.2f} GiB, "
        f"{info['packages']} packages, {info['seconds_total']} s total "
        f"(base {info['seconds_base']} s, wheelhouse+context {info['seconds_prepare']} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
