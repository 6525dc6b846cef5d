"""Which NVIDIA GPUs a container gets: pure functions over what the engine and host report."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Literal

GpuSetting = Literal["all", "none"] | int


@dataclass
class GpuPlan:
    """The device requests for the container and the one sentence that says what jobs get."""

    device_requests: list[dict[str, object]] = field(default_factory=list)
    note: str = ""

    @property
    def uses_gpu(self) -> bool:
        return bool(self.device_requests)


def device_requests(gpus: GpuSetting, cuda_visible_devices: str | None = None) -> list[dict[str, object]]:
    """Docker `DeviceRequests` for `--gpus all|N|none`, honouring the host's CUDA_VISIBLE_DEVICES.

    With CUDA_VISIBLE_DEVICES set (ids or UUIDs), exactly those devices are requested (the first N
    of them for a count); otherwise `count` -1 (all) or N. The dicts are what
    `docker.types.DeviceRequest(**d)` takes.
    """
    if gpus == "none" or gpus == 0:
        return []
    visible = [d.strip() for d in (cuda_visible_devices or "").split(",") if d.strip()]
    if cuda_visible_devices is not None and not visible:
        return []  # CUDA_VISIBLE_DEVICES="" hides every GPU
    if visible and visible != ["-1"]:
        ids = visible if gpus == "all" else visible[: int(gpus)]
        return [{"driver": "nvidia", "device_ids": ids, "capabilities": [["gpu"]]}]
    if visible == ["-1"]:
        return []
    count = -1 if gpus == "all" else int(gpus)
    return [{"driver": "nvidia", "count": count, "capabilities": [["gpu"]]}]


def nvidia_runtime_available(runtimes: dict[str, object] | list[str] | None, hook_on_path: bool) -> bool:
    """Whether the engine can pass NVIDIA GPUs: an `nvidia` runtime or the toolkit's hook on the host."""
    names = set(runtimes or [])
    return "nvidia" in names or hook_on_path


def plan_gpus(
    gpus: GpuSetting,
    *,
    runtimes: dict[str, object] | list[str] | None,
    hook_on_path: bool,
    host_gpus: list[str],
    cuda_visible_devices: str | None,
) -> GpuPlan:
    """Decide the container's GPUs from the setting and what the engine and host have."""
    if gpus == "none" or gpus == 0:
        return GpuPlan([], "GPUs are switched off for the sandbox (gpus: none); jobs run on CPU")
    if not host_gpus:
        return GpuPlan([], "no NVIDIA GPU on this machine; jobs run on CPU")
    if not nvidia_runtime_available(runtimes, hook_on_path):
        return GpuPlan(
            [],
            f"{len(host_gpus)} NVIDIA GPU(s) found but the Docker engine has no NVIDIA container "
            "runtime (install nvidia-container-toolkit); jobs run on CPU",
        )
    reqs = device_requests(gpus, cuda_visible_devices)
    if not reqs:
        return GpuPlan([], "CUDA_VISIBLE_DEVICES hides every GPU; jobs run on CPU")
    req = reqs[0]
    ids = req.get("device_ids")
    which = ",".join(ids) if isinstance(ids, list) else ("all" if req["count"] == -1 else str(req["count"]))
    return GpuPlan(reqs, f"jobs get NVIDIA GPUs ({which}) of {len(host_gpus)} on this machine")


def host_gpus() -> list[str]:
    """`nvidia-smi -L` lines (one per GPU); empty where there is no driver or GPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in out.stdout.splitlines() if line.startswith("GPU ")]


def toolkit_hook_on_path() -> bool:
    return any(shutil.which(n) for n in ("nvidia-container-runtime-hook", "nvidia-container-cli"))
