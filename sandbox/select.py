"""Pick the executor (`--sandbox auto|docker|local`) and report what the machine offers."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

from trainer_agent.sandbox.base import Sandbox
from trainer_agent.sandbox.config import SandboxConfig, format_size
from trainer_agent.sandbox.gpu import host_gpus, plan_gpus, toolkit_hook_on_path
from trainer_agent.sandbox.image_hash import HASH_LABEL, project_hash
from trainer_agent.sandbox.local import LocalSandbox
from trainer_agent.skills.errors import UserError

log = logging.getLogger("trainer_agent.sandbox")

Kind = Literal["auto", "docker", "local"]


def docker_client() -> tuple[Any, str]:
    """(client, "") when a Docker engine answers, else (None, why not)."""
    try:
        import docker
    except ImportError:
        return None, "the docker Python package is not installed"
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"no Docker engine answers ({first[:160]})"
    return client, ""


def docker_ready(config: SandboxConfig) -> tuple[Any, str]:
    """(client, "") when a Docker engine answers and holds the sandbox image built from this source,
    else (None, why not)."""
    client, why = docker_client()
    if client is None:
        return None, why
    import docker

    try:
        image = client.images.get(config.image)
    except docker.errors.ImageNotFound:
        return None, f"the sandbox image {config.image} is not built (trainer-agent sandbox build)"
    # Jobs run the project code baked into the image: stale code would give other results.
    if (image.labels or {}).get("org.trainer-agent.project-hash") != project_hash():
        return None, (
            f"the sandbox image {config.image} was built from other trainer-agent source "
            "(rebuild it with: trainer-agent sandbox build)"
        )
    return client, ""


def resolve(kind: Kind | str, config: SandboxConfig) -> str:
    """The executor `make_sandbox` would pick: `docker` or `local` (`auto` is asked here)."""
    if kind != "auto":
        return kind
    return "docker" if docker_ready(config)[0] is not None else "local"


def make_sandbox(
    kind: Kind | str = "auto",
    workspace: str | Path = ".",
    config: SandboxConfig | None = None,
    *,
    inputs: list[str | Path] | tuple[str | Path, ...] = (),
) -> Sandbox:
    """The executor for a run. `auto`: Docker when an engine answers and the image exists, else local.

    The returned sandbox's `description` says which executor it is and why it was chosen.
    """

    config = config or SandboxConfig()
    if kind not in ("auto", "docker", "local"):
        raise UserError(f"Unknown sandbox {kind!r}; use auto, docker or local.")
    if kind == "local":
        sb: Sandbox = LocalSandbox(workspace, config)
        sb.description = f"local executor (asked for): {sb.isolation}"
        return sb
    client, why = docker_ready(config)
    if client is None:
        if kind == "docker":
            raise UserError(f"--sandbox docker cannot be used: {why}.")

        sb = LocalSandbox(workspace, config)
        sb.description = f"local executor, because {why}: {sb.isolation}"
        log.warning("sandbox: %s", sb.description)
        return sb
    from trainer_agent.sandbox.docker_sandbox import DockerSandbox

    sb = DockerSandbox(workspace, config, inputs=inputs, client=client)
    how = "asked for" if kind == "docker" else "an engine answers and the image is built"
    sb.description = f"Docker executor ({how}): {sb.isolation}; {sb.gpu_note}"
    return sb


def check(config: SandboxConfig | None = None) -> dict[str, object]:
    """What `trainer-agent sandbox check` prints: engine, image, runtimes, GPUs, the GPU plan."""

    config = config or SandboxConfig()
    gpus = host_gpus()
    report: dict[str, object] = {"engine": None, "version": None, "image": config.image, "host_gpus": gpus}
    client, why = docker_client()
    if client is None:
        report.update(engine_ok=False, engine_note=why, executor="local")
        return report
    info = client.info()
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    report.update(
        engine_ok=True,
        engine=info.get("Name"),
        version=client.version().get("Version"),
        cgroup_version=info.get("CgroupVersion"),
        runtimes=runtimes,
    )
    import docker

    try:
        img = client.images.get(config.image)
    except docker.errors.ImageNotFound:
        report.update(image_present=False, executor="local", engine_note="image not built")
    else:
        labels = img.labels or {}
        report.update(
            image_present=True,
            image_id=img.short_id,
            image_size=format_size(int(img.attrs.get("Size", 0))),
            image_size_bytes=int(img.attrs.get("Size", 0)),
            image_content_hash=labels.get(HASH_LABEL),
            image_source_current=labels.get("org.trainer-agent.project-hash") == project_hash(),
            executor="docker",
        )
    plan = plan_gpus(
        config.gpus,
        runtimes=runtimes,
        hook_on_path=toolkit_hook_on_path(),
        host_gpus=gpus,
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
    )
    report.update(gpu_note=plan.note, gpu_device_requests=plan.device_requests)
    return report
