"""The Docker executor: one warm, locked-down container per run; each command is an exec in it.

The container: no network (unless the config opts in), memory/CPU/pids limits, a non-root user,
a read-only root with a tmpfs /tmp, all capabilities dropped, no-new-privileges, the workspace
mounted read-write at /workspace and inputs read-only at their host paths, NVIDIA GPUs when the
engine can pass them. Jobs run as the workspace owner (or 1000:1000 when that is root); the idle
main process runs as another uid, so after each job `kill -9 -1` as the job's user ends whatever
the job left behind without touching the container. A timeout removes the container (the next
command gets a fresh one), which ends every process of the job however it forked.

Built on the Docker SDK rather than AG2's DockerCommandLineCodeExecutor, which has no output
streaming, OOM reporting or resource limits of its own (`sandbox.ag2` adapts a Sandbox to AG2).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import docker
from docker.utils.socket import frames_iter

from trainer_agent.sandbox.base import JobResult, OutputCallback, OutputCollector, Sandbox, describe_exit
from trainer_agent.sandbox.config import SandboxConfig, format_size, parse_size
from trainer_agent.sandbox.gpu import GpuPlan, host_gpus, plan_gpus, toolkit_hook_on_path
from trainer_agent.skills.errors import UserError

log = logging.getLogger("trainer_agent.sandbox")

LABEL = "org.trainer-agent.sandbox"
OWNER_LABEL = "org.trainer-agent.owner"
WORKSPACE_LABEL = "org.trainer-agent.workspace"
CONTAINER_WORKSPACE = "/workspace"
# Run after every job as the job's user: `kill -9 -1` ends whatever the job left running (the
# container's idle process belongs to another uid, so it survives), then the cgroup's OOM-kill
# counter is read (cgroup v2 memory.events, or v1 memory.oom_control).
_AFTER_JOB = (
    "kill -9 -1 2>/dev/null; "
    "cat /sys/fs/cgroup/memory.events 2>/dev/null || cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null"
)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_containers(client: Any) -> int:
    """Remove sandbox containers whose owning process on this host is gone (a crash, SIGKILL)."""
    removed = 0
    host = socket.gethostname()
    for c in client.containers.list(all=True, filters={"label": LABEL}):
        owner_host, _, pid = (c.labels.get(OWNER_LABEL) or "").rpartition(":")
        if owner_host == host and pid.isdigit() and not _pid_alive(int(pid)):
            with contextlib.suppress(Exception):
                c.remove(force=True)
                removed += 1
    return removed


def parse_oom_kills(text: str) -> int | None:
    """The `oom_kill` counter from cgroup v2 memory.events or v1 memory.oom_control."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


class DockerSandbox(Sandbox):
    """Runs commands by `docker exec` in one container per run, created on first use."""

    kind = "docker"
    python = "python"

    def __init__(
        self,
        workspace: str | Path,
        config: SandboxConfig | None = None,
        *,
        inputs: list[str | Path] | tuple[str | Path, ...] = (),
        client: Any = None,
    ) -> None:

        super().__init__(workspace, config)
        self.inputs = [Path(p).resolve() for p in inputs]
        for p in self.inputs:
            if not p.exists():
                raise UserError(f"Sandbox input {p} does not exist.")
        self._client = client or docker.from_env()
        try:
            self._client.images.get(self.config.image)
        except docker.errors.ImageNotFound:
            raise UserError(
                f"Sandbox image {self.config.image} is missing; build it with scripts/build_sandbox_image."
            ) from None
        remove_stale_containers(self._client)
        info = self._client.info()
        self.gpu_plan: GpuPlan = plan_gpus(
            self.config.gpus,
            runtimes=info.get("Runtimes"),
            hook_on_path=toolkit_hook_on_path(),
            host_gpus=host_gpus(),
            cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        )
        self.gpu_note = self.gpu_plan.note
        log.info("sandbox: %s", self.gpu_note)
        net = "network on (opted in)" if self.config.network else "no network"
        self.isolation = (
            f"Docker container: {net}, memory {format_size(self.config.memory_bytes)}, "
            f"{self.config.cpus:g} CPUs, {self.config.pids} processes, non-root, read-only root, "
            "only the run directory (and read-only inputs) mounted"
        )
        self.container: Any = None
        self.start_seconds: float | None = None
        self.user = self._resolve_user()
        for p in self.inputs:
            self._check_readable(p)
        # The idle main process runs as a different non-root uid than jobs, out of their reach.
        self.idle_user = "65533:65533" if self.user.startswith("65534:") else "65534:65534"
        self._oom_kills = 0
        self._lock = threading.Lock()
        self._atexit = self._make_atexit()

    # -- container lifecycle -------------------------------------------------------------------

    def _resolve_user(self) -> str:
        if self.config.user != "auto":
            return self.config.user
        st = self.workspace.stat()
        return f"{st.st_uid}:{st.st_gid}" if st.st_uid != 0 else "1000:1000"

    def _check_readable(self, path: Path) -> None:
        """An input whose mount root the container user cannot read fails now, not mid-job."""

        uid_s, _, gid_s = self.user.partition(":")
        if not uid_s.isdigit():
            return
        st = path.stat()
        need = 0o5 if path.is_dir() else 0o4
        if int(uid_s) == st.st_uid:
            bits = (st.st_mode >> 6) & 0o7
        elif gid_s.isdigit() and int(gid_s) == st.st_gid:
            bits = (st.st_mode >> 3) & 0o7
        else:
            bits = st.st_mode & 0o7
        if bits & need != need:
            raise UserError(
                f"Sandbox input {path} (mode {st.st_mode & 0o777:o}, owner uid {st.st_uid}) is not readable "
                f"by the sandbox user {self.user}; make it readable (chmod a+rX) or use --sandbox local."
            )

    def _make_workspace_writable(self) -> None:
        """As root on the host, hand the workspace to the container's non-root user."""
        uid_s, _, gid_s = self.user.partition(":")
        if os.getuid() != 0 or not uid_s.isdigit():
            return
        uid, gid = int(uid_s), int(gid_s) if gid_s.isdigit() else int(uid_s)
        if uid == 0:
            return
        for root, dirs, files in os.walk(self.workspace):
            for name in [".", *dirs, *files]:
                p = os.path.join(root, name)
                with contextlib.suppress(OSError):
                    if os.lstat(p).st_uid != uid:
                        os.lchown(p, uid, gid)

    def _volumes(self) -> dict[str, dict[str, str]]:
        vols = {str(self.workspace): {"bind": CONTAINER_WORKSPACE, "mode": "rw"}}
        for p in self.inputs:
            if not p.is_relative_to(self.workspace):
                vols[str(p)] = {"bind": str(p), "mode": "ro"}
        return vols

    def container_kwargs(self) -> dict[str, Any]:
        """What the container is created with (kept apart so tests can read the settings)."""

        cfg = self.config
        mem = cfg.memory_bytes
        fsize = cfg.file_size_bytes
        return {
            "image": cfg.image,
            "command": ["sleep", "infinity"],
            "name": f"trainer-agent-sbx-{os.getpid()}-{uuid.uuid4().hex[:8]}",
            "labels": {LABEL: "1", OWNER_LABEL: _owner(), WORKSPACE_LABEL: str(self.workspace)},
            "detach": True,
            "init": True,  # reaps orphaned processes of exec'd jobs
            "user": self.idle_user,
            "working_dir": CONTAINER_WORKSPACE,
            "volumes": self._volumes(),
            "network_mode": "bridge" if cfg.network else "none",
            "mem_limit": mem,
            "memswap_limit": mem,  # no swap: a memory hog is killed, not slowed to a crawl
            "nano_cpus": int(cfg.cpus * 1e9),
            "pids_limit": cfg.pids,
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={parse_size(cfg.tmpfs_size)},mode=1777"},
            "shm_size": cfg.shm_size,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "ulimits": [docker.types.Ulimit(name="fsize", soft=fsize, hard=fsize)],
            "stop_signal": "SIGKILL",
            "device_requests": [docker.types.DeviceRequest(**r) for r in self.gpu_plan.device_requests],
            "environment": self._environment(),
        }

    def _environment(self) -> dict[str, str]:
        # A CPU quota does not change the CPU count a job sees; size thread pools to the quota.
        threads = str(max(1, int(self.config.cpus)))
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        env.update(USER="sandbox", LOGNAME="sandbox")  # getpass works for uids without a passwd entry
        # the model library's switch (skills.model.model_library): installed model packages off outside
        # the container are off inside it too
        if os.environ.get("TRAINER_AGENT_MODEL_PACKAGES"):
            env["TRAINER_AGENT_MODEL_PACKAGES"] = os.environ["TRAINER_AGENT_MODEL_PACKAGES"]
        if not self.config.network:
            env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        return env

    def _ensure_container(self) -> Any:
        if self.container is not None:
            return self.container
        t0 = time.monotonic()
        self.container = self._client.containers.run(**self.container_kwargs())
        self._oom_kills = 0
        self.start_seconds = time.monotonic() - t0
        log.info("sandbox: started container %s in %.2f s", self.container.name, self.start_seconds)
        return self.container

    def _discard_container(self) -> None:
        c, self.container = self.container, None
        if c is not None:
            with contextlib.suppress(Exception):
                c.remove(force=True)

    def _make_atexit(self):
        # A closure over the client and this object's container attribute only, so atexit does
        # not keep the whole sandbox alive and a crash of the run still removes the container.
        def cleanup() -> None:
            self._discard_container()

        atexit.register(cleanup)
        return cleanup

    def close(self) -> None:
        self._discard_container()
        atexit.unregister(self._atexit)

    # -- running -------------------------------------------------------------------------------

    def to_sandbox_path(self, host_path: str | Path) -> str:

        p = self._host_path(host_path)
        if p.is_relative_to(self.workspace):
            rel = p.relative_to(self.workspace)
            return CONTAINER_WORKSPACE if str(rel) == "." else f"{CONTAINER_WORKSPACE}/{rel.as_posix()}"
        if any(p.is_relative_to(i) for i in self.inputs):
            return str(p)
        raise UserError(f"{p} is neither in the run directory nor a sandbox input, so jobs cannot see it.")

    def run(
        self,
        cmd: list[str],
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        on_output: OutputCallback | None = None,
    ) -> JobResult:
        timeout = float(timeout if timeout is not None else self.config.timeout)
        with self._lock:
            self._make_workspace_writable()
            exec_id = self._exec_create(cmd, env)
            collector = OutputCollector(on_output, self.config.max_output_chars)
            errors: list[BaseException] = []
            start = time.monotonic()
            sock = self._client.api.exec_start(exec_id, socket=True)
            # A job can be silent for longer than the client's request timeout: wait as long as it runs.
            with contextlib.suppress(AttributeError, OSError):
                getattr(sock, "_sock", sock).settimeout(None)

            def pump() -> None:
                try:
                    for _stream, chunk in frames_iter(sock, tty=False):
                        collector.feed(chunk)
                except Exception as exc:  # the container was removed under the stream
                    errors.append(exc)
                finally:
                    with contextlib.suppress(Exception):
                        sock.close()

            reader = threading.Thread(target=pump, daemon=True)
            reader.start()
            oom_early = False
            try:
                deadline = start + timeout
                while reader.is_alive() and (left := deadline - time.monotonic()) > 0:
                    reader.join(min(1.0, left))
                    if reader.is_alive() and not self._exec_running(exec_id):
                        # The command ended, but something it started still holds its output open.
                        oom_early = self._after_job()
                        reader.join(5)
                        break
            except BaseException:  # Ctrl-C: nothing of the job may outlive us
                self._discard_container()
                raise
            timed_out = reader.is_alive()
            if timed_out:
                # Killing the container is the one sure way to end every process of the job
                # (it may have forked or left its process group); the next command gets a new one.
                self._discard_container()
                reader.join(10)
            elif errors:
                log.warning("sandbox: output stream broke: %s", errors[0])
            duration = time.monotonic() - start
            collector.close()
            exit_code = -9 if timed_out else self._exit_code(exec_id)
            oom = not timed_out and (self._after_job() or oom_early) and exit_code != 0
            reason = describe_exit(
                exit_code,
                timed_out=timed_out,
                timeout=timeout,
                oom=oom,
                memory_limit=self.config.memory_bytes,
                duration_s=duration,
            )
            return JobResult(
                exit_code, collector.text, duration, timed_out=timed_out, oom_killed=oom, reason=reason
            )

    def _exec_create(self, cmd: list[str], env: dict[str, str] | None) -> str:
        """Create the exec in the warm container, replacing a container that has died meanwhile."""

        environment = [f"{k}={v}" for k, v in (env or {}).items()] or None
        for attempt in (1, 2):
            container = self._ensure_container()
            try:
                return str(
                    self._client.api.exec_create(
                        container.id,
                        cmd,
                        stdout=True,
                        stderr=True,
                        environment=environment,
                        workdir=CONTAINER_WORKSPACE,
                        user=self.user,
                    )["Id"]
                )
            except docker.errors.APIError:
                if attempt == 2:
                    raise
                log.warning("sandbox: container %s is gone; starting a new one", container.name)
                self._discard_container()
        raise AssertionError("unreachable")

    def _exec_running(self, exec_id: str) -> bool:
        try:
            return bool(self._client.api.exec_inspect(exec_id).get("Running"))
        except Exception:
            return False

    def _exit_code(self, exec_id: str) -> int:
        deadline = time.monotonic() + 5
        while True:
            try:
                info = self._client.api.exec_inspect(exec_id)
            except Exception:
                return -9
            if not info.get("Running") or time.monotonic() > deadline:
                code = info.get("ExitCode")
                return int(code) if code is not None else -9
            time.sleep(0.02)

    def _after_job(self) -> bool:
        """End the job's leftover processes; True when the cgroup OOM-killed something meanwhile."""
        if self.container is None:
            return False
        try:
            res = self.container.exec_run(["sh", "-c", _AFTER_JOB], user=self.user)
            count = parse_oom_kills(res.output.decode(errors="replace"))
        except Exception:
            count = None
        if count is None:  # no readable cgroup file: fall back on the container state
            with contextlib.suppress(Exception):
                self.container.reload()
                return bool(self.container.attrs["State"].get("OOMKilled"))
            return False
        happened = count > self._oom_kills
        self._oom_kills = count
        return happened
