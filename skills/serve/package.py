"""A Docker image of a run's model service, built on the sandbox image (same Python, same packages).

    info = build_image("runs/<id>")          # writes runs/<id>/service/Dockerfile, builds, returns tag
    container, url = run_image(info["image"]) # serves on 127.0.0.1:<free port>

The image is `trainer-agent-sandbox:latest` (onnxruntime, FastAPI, uvicorn and the project) plus
this checkout's `skills/` package and the run's exports/model.onnx, started as
`python -m trainer_agent.skills.serve.service_app` on port 8000 as user 1000. The build uses the
legacy builder through the Docker SDK (no BuildKit needed) against the same engine as the sandbox.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.export.onnx_predict import model_version

BASE_IMAGE = "trainer-agent-sandbox:latest"
PORT = 8000
PROJECT_ROOT = Path(__file__).resolve().parents[2]

DOCKERFILE = """\
# The model service of run {run_id}, built by `trainer-agent package`.
# Base: the sandbox image (Python, onnxruntime, FastAPI, uvicorn, the project); the service code
# is this checkout's skills/ package, so the image serves what was tested here.
ARG BASE_IMAGE={base}
FROM ${{BASE_IMAGE}}
LABEL org.trainer-agent.run="{run_id}" org.trainer-agent.model-version="{version}"
COPY skills/ /opt/trainer-agent/trainer_agent/skills/
COPY model.onnx /opt/model/model.onnx
USER 1000:1000
WORKDIR /tmp
EXPOSE {port}
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD ["python", "-c", \\
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/ready', timeout=2)"]
CMD ["python", "-m", "trainer_agent.skills.serve.service_app", "--model", "/opt/model/model.onnx", \\
     "--host", "0.0.0.0", "--port", "{port}"]
"""


def image_tag(run_dir: str | Path, version: str) -> str:
    """`trainer-agent-service-<run id>:<model version>` (Docker wants lower case)."""
    run_id = re.sub(r"[^a-z0-9_.-]+", "-", Path(run_dir).resolve().name.lower()).strip("-.") or "run"
    return f"trainer-agent-service-{run_id}:{version}"


def _model(run_dir: Path) -> Path:
    from trainer_agent.skills.export.variant import served_file

    model = served_file(run_dir / "exports")  # the int8 copy when the export kept it
    if not model.is_file():
        raise UserError(f"{model} does not exist; run the pipeline (or its export step) first.")
    return model


def write_dockerfile(run_dir: str | Path, base_image: str = BASE_IMAGE) -> tuple[Path, str]:
    """Write run_dir/service/Dockerfile; return it and the image tag it builds."""

    run = Path(run_dir).resolve()
    version = model_version(_model(run))
    path = run / "service" / "Dockerfile"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DOCKERFILE.format(run_id=run.name, version=version, base=base_image, port=PORT))
    return path, image_tag(run, version)


def docker_client() -> Any:
    """A Docker SDK client whose engine answers, or UserError saying how to get one."""
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as err:
        raise UserError(f"No Docker engine answers ({err}); start one with scripts/setup_docker.") from err
    return client


def build_image(
    run_dir: str | Path, tag: str | None = None, base_image: str = BASE_IMAGE, client: Any = None
) -> dict[str, Any]:
    """Write the Dockerfile and build the image (context: Dockerfile, model.onnx, skills/).
    Returns image (tag), id, size_bytes, build_s and dockerfile."""
    import docker

    run = Path(run_dir).resolve()
    dockerfile, default_tag = write_dockerfile(run, base_image)
    tag = tag or default_tag
    client = client or docker_client()
    try:
        client.images.get(base_image)
    except docker.errors.ImageNotFound as err:
        raise UserError(
            f"The base image {base_image} is missing; build it with scripts/build_sandbox_image."
        ) from err
    context = run / "service" / "docker-context"
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)
    shutil.copy2(dockerfile, context / "Dockerfile")
    shutil.copy2(_model(run), context / "model.onnx")
    shutil.copytree(
        PROJECT_ROOT / "skills", context / "skills", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    start = time.perf_counter()
    try:
        image, _logs = client.images.build(path=str(context), tag=tag, rm=True, forcerm=True, pull=False)
    except docker.errors.BuildError as err:
        tail = " | ".join(str(x.get("stream", x.get("error", ""))).strip() for x in list(err.build_log)[-5:])
        raise UserError(f"Building {tag} failed: {err.msg}: {tail}") from err
    finally:
        shutil.rmtree(context, ignore_errors=True)
    return {
        "image": tag,
        "id": image.id,
        "size_bytes": int(image.attrs.get("Size", 0)),
        "build_s": round(time.perf_counter() - start, 2),
        "dockerfile": str(dockerfile),
        "base_image": base_image,
    }


def run_image(
    tag: str,
    client: Any = None,
    api_key: str | None = None,
    memory_mb: int | None = None,
    cpus: float | None = 1.0,
    timeout: float = 60,
) -> tuple[Any, str]:
    """Start a container of `tag` (read-only root, /tmp in memory, no capabilities, port 8000
    published on 127.0.0.1:<free port>) and wait until /ready answers; return it and its URL."""
    import httpx

    client = client or docker_client()
    container = client.containers.run(
        tag,
        detach=True,
        ports={f"{PORT}/tcp": ("127.0.0.1", None)},
        environment={"TRAINER_AGENT_API_KEY": api_key} if api_key else {},
        read_only=True,
        tmpfs={"/tmp": "size=64m"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        mem_limit=f"{memory_mb}m" if memory_mb else None,
        nano_cpus=int(cpus * 1e9) if cpus else None,
        labels={"org.trainer-agent.service": "1"},
    )
    deadline = time.monotonic() + timeout
    url = ""
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            logs = container.logs(tail=5).decode(errors="replace")
            container.remove(force=True)
            raise UserError(f"The service container of {tag} exited: {logs}")
        bound = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{PORT}/tcp")
        if bound:
            url = f"http://127.0.0.1:{bound[0]['HostPort']}"
            try:
                if httpx.get(f"{url}/ready", timeout=1.0).status_code == 200:
                    return container, url
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    container.remove(force=True)
    raise UserError(f"The service container of {tag} did not become ready within {timeout:g} s at {url}.")
