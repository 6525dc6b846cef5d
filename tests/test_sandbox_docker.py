"""Adversarial jobs in the Docker sandbox: each must fail inside the container, be reported
clearly, and leave the host and the sandbox fit for the next job. Needs a Docker engine and the
image (scripts/setup_docker, scripts/build_sandbox_image); skips only when no engine answers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.sandbox_conftest_helpers import TEST_CONFIG, our_containers, require_docker
from trainer_agent.sandbox.docker_sandbox import LABEL, OWNER_LABEL, DockerSandbox

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client():
    return require_docker()


@pytest.fixture(scope="module")
def secret_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A host folder that is NOT mounted: jobs must not see it."""
    d = tmp_path_factory.mktemp("host-secret")
    (d / "secret.txt").write_text("host secret\n")
    return d


@pytest.fixture(scope="module")
def inputs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    d.chmod(0o755)  # as a data folder usually is; pytest makes its folders 0700
    (d / "train.csv").write_text("text,label\nhi,a\n")
    return d


@pytest.fixture(scope="module")
def sb(client, tmp_path_factory: pytest.TempPathFactory, inputs_dir: Path):
    box = DockerSandbox(tmp_path_factory.mktemp("ws-adv"), TEST_CONFIG, inputs=[inputs_dir], client=client)
    yield box
    box.close()
    assert our_containers(client) == []


def py(sb: DockerSandbox, code: str, timeout: float = 60):
    return sb.run(["python", "-c", code], timeout=timeout)


def test_container_is_locked_down(sb: DockerSandbox) -> None:
    assert sb.run(["true"], timeout=30).ok
    hc = sb.container.attrs["HostConfig"]
    assert hc["NetworkMode"] == "none"
    assert hc["Memory"] == 512 * 1024**2 and hc["MemorySwap"] == 512 * 1024**2
    assert hc["NanoCpus"] == 10**9 and hc["PidsLimit"] == 128
    assert hc["ReadonlyRootfs"] is True and hc["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in hc["SecurityOpt"]
    assert sb.container.labels[LABEL] == "1"
    assert "no NVIDIA GPU" in sb.gpu_note or "runtime" in sb.gpu_note or "jobs get" in sb.gpu_note
    res = py(sb, "import os; print(os.getuid(), os.getgid())")
    assert res.output.split()[0] != "0", "jobs must not run as root"


def test_every_runtime_dependency_imports_in_the_image(sb: DockerSandbox) -> None:
    # A wheel that needs a system library the image lacks (LightGBM's libgomp) fails here, in one
    # line per package, rather than in the middle of a run's training job.
    import re
    from importlib import metadata

    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    direct = {
        norm(Requirement(r).name) for r in metadata.requires("trainer-agent") or [] if "extra ==" not in r
    }
    by_module = metadata.packages_distributions()
    modules = []
    for dist in sorted(direct):
        mine = sorted(m for m, ds in by_module.items() if dist in map(norm, ds) and not m.startswith("_"))
        modules.append(dist.replace("-", "_") if dist.replace("-", "_") in mine else mine[0])
    assert {"lightgbm", "onnxmltools", "sklearn", "torch", "onnxruntime", "yaml"} <= set(modules)
    code = (
        "import subprocess, sys\n"
        f"for m in {modules!r}:\n"
        "    r = subprocess.run([sys.executable, '-c', 'import ' + m], capture_output=True, text=True)\n"
        "    if r.returncode:\n"
        "        print('FAILED', m, (r.stderr.strip().splitlines() or ['?'])[-1])\n"
        "print('checked', len(sys.argv))\n"
    )
    res = py(sb, code, timeout=600)
    assert res.ok and "checked" in res.output, res.output
    assert "FAILED" not in res.output, res.output


def test_network_is_unreachable(sb: DockerSandbox) -> None:
    gateway = "172.17.0.1"  # the host as seen from Docker's default bridge
    code = (
        "import os, socket\n"
        "print('interfaces', sorted(os.listdir('/sys/class/net')))\n"
        f"for host, port in [('1.1.1.1', 53), ('{gateway}', 22), ('{gateway}', 2375)]:\n"
        "    s = socket.socket(); s.settimeout(3)\n"
        "    try:\n"
        "        s.connect((host, port)); print('CONNECTED', host)\n"
        "    except OSError as e:\n"
        "        print('blocked', host, type(e).__name__)\n"
        "try:\n"
        "    socket.getaddrinfo('pypi.org', 443); print('RESOLVED')\n"
        "except OSError as e:\n"
        "    print('no dns', type(e).__name__)\n"
    )
    res = py(sb, code, timeout=60)
    assert res.ok, res.output
    assert "interfaces ['lo']" in res.output
    assert "CONNECTED" not in res.output and "RESOLVED" not in res.output
    assert res.output.count("blocked") == 3 and "no dns" in res.output


def test_memory_hog_is_oom_killed_and_reported(sb: DockerSandbox) -> None:
    before = sb.container.id if sb.container is not None else None
    # Grows like a training job with a too-large batch: 64 MiB at a time up to 2 GiB.
    code = "chunks = []\nfor i in range(32):\n    chunks.append(b'x' * 2**26)\n    print(i, flush=True)\n"
    res = py(sb, code, timeout=60)
    assert res.exit_code == 137 and res.oom_killed and not res.timed_out
    assert res.reason == "ran out of memory (limit 512 MiB)"
    assert "31" not in res.output.split()
    # The container survived (only the job died) and runs the next job.
    assert sb.container is not None and (before is None or sb.container.id == before)
    assert sb.run(["echo", "alive"], timeout=30).output == "alive\n"


def test_sigkill_without_oom_is_not_called_oom(sb: DockerSandbox) -> None:
    res = sb.run(["sh", "-c", "kill -9 $$"], timeout=30)
    assert res.exit_code == 137 and not res.oom_killed
    assert res.reason.startswith("was stopped by SIGKILL")


def test_fork_bomb_hits_the_pids_limit(sb: DockerSandbox) -> None:
    # Forks until the kernel says no; children sleep so they hold their pids.
    code = (
        "import os, time\n"
        "n = 0\n"
        "try:\n"
        "    while n < 5000:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(120); os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print('fork failed after', n, type(e).__name__, flush=True)\n"
    )
    res = py(sb, code, timeout=60)
    assert "fork failed after" in res.output, res.output
    n = int(res.output.split("fork failed after")[1].split()[0])
    assert n < 128
    # The job's sleeping children were ended after it, so the next job has its pids back.
    assert py(sb, "import os; print(len([p for p in os.listdir('/proc') if p.isdigit()]))").ok
    count = int(py(sb, "import os; print(len([p for p in os.listdir('/proc') if p.isdigit()]))").output)
    assert count < 10


def test_shell_fork_bomb_is_contained_by_limits_and_timeout(sb: DockerSandbox) -> None:
    t0 = time.monotonic()
    res = sb.run(["bash", "-c", ":(){ :|:& };:; sleep 30"], timeout=4)
    assert time.monotonic() - t0 < 30
    assert res.timed_out or res.exit_code != 0
    assert sb.run(["echo", "recovered"], timeout=30).output == "recovered\n"


def test_infinite_loop_hits_the_timeout(sb: DockerSandbox) -> None:
    before = sb.container.id
    t0 = time.monotonic()
    res = py(sb, "while True:\n    pass", timeout=2)
    assert res.timed_out and res.reason == "timed out after 2 s"
    assert time.monotonic() - t0 < 15
    # The container was replaced; the next job gets a fresh one.
    assert sb.run(["echo", "next"], timeout=30).output == "next\n"
    assert sb.container.id != before


def test_writing_outside_the_workspace_fails(sb: DockerSandbox) -> None:
    code = (
        "import pathlib\n"
        "for p in ['/etc/evil', '/opt/venv/evil.py', '/evil', '/opt/trainer-agent/skills/evil.py']:\n"
        "    try:\n"
        "        pathlib.Path(p).write_text('x'); print('WROTE', p)\n"
        "    except OSError as e:\n"
        "        print('refused', p, e.strerror)\n"
        "pathlib.Path('/tmp/scratch').write_text('ok'); print('tmp ok')\n"
        "pathlib.Path('/workspace/ok.txt').write_text('ok'); print('workspace ok')\n"
    )
    res = py(sb, code)
    assert res.ok, res.output
    assert "WROTE" not in res.output and res.output.count("refused") == 4
    assert "Read-only file system" in res.output
    assert "tmp ok" in res.output and (sb.workspace / "ok.txt").exists()


def test_host_files_outside_the_mounts_are_invisible(
    sb: DockerSandbox, secret_dir: Path, inputs_dir: Path
) -> None:
    code = (
        "import os, pathlib\n"
        f"for p in ['{secret_dir / 'secret.txt'}', '/etc/shadow', '/root', '{Path.cwd()}/pyproject.toml']:\n"
        "    try:\n"
        "        print('READ', p, pathlib.Path(p).read_text()[:20])\n"
        "    except OSError as e:\n"
        "        print('hidden', p, type(e).__name__)\n"
        f"print('input:', pathlib.Path('{inputs_dir / 'train.csv'}').read_text().splitlines()[0])\n"
        f"try:\n    pathlib.Path('{inputs_dir / 'new.txt'}').write_text('x'); print('WROTE input')\n"
        "except OSError as e:\n    print('input read-only', e.strerror)\n"
    )
    res = py(sb, code)
    assert res.ok, res.output
    assert "READ" not in res.output and res.output.count("hidden") == 4
    assert "input: text,label" in res.output
    assert "input read-only Read-only file system" in res.output
    assert sb.to_sandbox_path(inputs_dir / "train.csv") == str(inputs_dir / "train.csv")
    from trainer_agent.skills.errors import UserError

    with pytest.raises(UserError, match="neither in the run directory"):
        sb.to_sandbox_path(secret_dir / "secret.txt")


def test_unreadable_input_is_refused_up_front(client, tmp_path: Path, tmp_path_factory) -> None:
    private = tmp_path_factory.mktemp("private")
    private.chmod(0o700)
    sandbox_user_owns = os.getuid() != 0  # then the container runs as the owner and may read it
    if sandbox_user_owns:
        DockerSandbox(tmp_path, TEST_CONFIG, inputs=[private], client=client).close()
        return
    from trainer_agent.skills.errors import UserError

    with pytest.raises(UserError, match="not readable by the sandbox user"):
        DockerSandbox(tmp_path, TEST_CONFIG, inputs=[private], client=client)


def test_ctrl_c_removes_the_container(client, tmp_path: Path) -> None:
    box = DockerSandbox(tmp_path, TEST_CONFIG, client=client)
    threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    with pytest.raises(KeyboardInterrupt):
        box.run(["sleep", "30"], timeout=60)
    assert box.container is None
    assert our_containers(client, tmp_path) == []
    box.close()


def test_close_and_context_manager_leave_no_containers(client, tmp_path: Path) -> None:
    with DockerSandbox(tmp_path, TEST_CONFIG, client=client) as box:
        assert box.run(["echo", "x"], timeout=30).ok
        assert len(our_containers(client, tmp_path)) == 1
        assert box.start_seconds is not None and box.start_seconds < 30
    assert our_containers(client, tmp_path) == []


def test_containers_of_a_crashed_process_are_removed(client, tmp_path: Path) -> None:
    # A process that dies without cleanup (SIGKILL) leaves its container; the next sandbox removes it.
    code = (
        "import os, sys\n"
        "from trainer_agent.sandbox.docker_sandbox import DockerSandbox\n"
        "from tests.sandbox_conftest_helpers import TEST_CONFIG\n"
        f"sb = DockerSandbox({str(tmp_path)!r}, TEST_CONFIG)\n"
        "sb.run(['true'], timeout=30)\n"
        "print(sb.container.id, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path.cwd()
    )
    cid = out.stdout.strip()
    assert cid, out.stderr
    leaked = client.containers.get(cid)  # still there: nobody cleaned up
    dead_pid = int(leaked.labels[OWNER_LABEL].rsplit(":", 1)[1])
    assert dead_pid != os.getpid()
    DockerSandbox(tmp_path, TEST_CONFIG, client=client).close()
    import docker

    with pytest.raises(docker.errors.NotFound):
        client.containers.get(cid)


def test_check_reports_engine_image_and_gpus(client) -> None:
    from trainer_agent.sandbox.select import check

    report = check(TEST_CONFIG)
    assert report["engine_ok"] is True and report["executor"] == "docker"
    assert report["image_present"] is True and int(report["image_size_bytes"]) > 100 * 1024**2
    assert "runc" in report["runtimes"]
    assert isinstance(report["host_gpus"], list) and report["gpu_note"]


def test_jobs_run_as_the_workspace_owner(client, tmp_path: Path) -> None:
    ws = tmp_path / "owned"
    ws.mkdir()
    if os.getuid() == 0:
        os.chown(ws, 4321, 4321)  # as if a normal user (uid 4321) made the run directory
    owner = ws.stat()
    with DockerSandbox(ws, TEST_CONFIG, client=client) as box:
        assert box.user == f"{owner.st_uid}:{owner.st_gid}"
        code = "import getpass, os, pathlib; pathlib.Path('mine.txt').write_text('x')\n"
        code += "print(os.getuid(), getpass.getuser())"
        res = box.run(["python", "-c", code], timeout=60)
        assert res.ok, res.output
        assert res.output.split()[0] == str(owner.st_uid)
    assert (ws / "mine.txt").stat().st_uid == owner.st_uid


def test_a_container_that_died_is_replaced(sb: DockerSandbox) -> None:
    assert sb.run(["true"], timeout=30).ok
    old = sb.container.id
    sb.container.kill()
    res = sb.run(["echo", "back"], timeout=30)
    assert res.output == "back\n" and sb.container.id != old


def test_no_host_secret_reaches_a_job_in_the_container(
    client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container's environment is the sandbox's own short list, never the host's: LLM keys,
    OAI_CONFIG_LIST and cloud credentials of the process that starts it stay outside."""
    from tests.test_child_env import LEAKS

    for name, value in LEAKS.items():
        monkeypatch.setenv(name, value)
    box = DockerSandbox(tmp_path, TEST_CONFIG, client=client)
    try:
        res = box.run(["python", "-c", "import os; print(sorted(os.environ.items()))"], timeout=60)
        assert res.ok, res.output
        assert "OMP_NUM_THREADS" in res.output  # what the sandbox does set is there
        for name, value in LEAKS.items():
            assert name not in res.output and value not in res.output, name
        box.container.reload()
        configured = "\n".join(box.container.attrs["Config"]["Env"] or [])
        assert not [name for name, value in LEAKS.items() if name in configured or value in configured]
    finally:
        box.close()
