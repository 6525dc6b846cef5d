"""Helpers shared by the sandbox tests (kept out of conftest.py, which belongs to the suite)."""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from trainer_agent.sandbox.config import SandboxConfig

# Small limits so the adversarial tests end quickly; jobs here need little.
TEST_CONFIG = SandboxConfig(memory="512m", cpus=1.0, pids=128, timeout=60, tmpfs_size="64m", shm_size="64m")


@functools.cache
def docker_client() -> Any:
    """A client when a Docker engine answers, else None (asked once per test session)."""
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
    except Exception:
        return None
    return client


def require_docker(image: str = TEST_CONFIG.image) -> Any:
    """Skip when no engine answers (fail instead with TRAINER_AGENT_REQUIRE_DOCKER=1); fail when the
    engine answers but the image is missing."""
    client = docker_client()
    if client is None:
        if os.environ.get("TRAINER_AGENT_REQUIRE_DOCKER") == "1":  # CI: a missing engine is a failure
            pytest.fail("TRAINER_AGENT_REQUIRE_DOCKER=1 but no Docker engine answers")
        pytest.skip("no Docker engine answers (scripts/setup_docker starts one)")
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        pytest.fail(f"Docker engine answers but {image} is missing: run scripts/build_sandbox_image")
    return client


def our_containers(client: Any, workspace: Any = None) -> list[Any]:
    """Sandbox containers this test process owns (running or not), optionally for one workspace."""
    from trainer_agent.sandbox.docker_sandbox import LABEL, OWNER_LABEL, WORKSPACE_LABEL

    owner = f"{socket.gethostname()}:{os.getpid()}"
    return [
        c
        for c in client.containers.list(all=True, filters={"label": LABEL})
        if c.labels.get(OWNER_LABEL) == owner
        and (workspace is None or c.labels.get(WORKSPACE_LABEL) == str(Path(workspace).resolve()))
    ]
