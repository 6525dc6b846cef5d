"""The sandbox: config, GPU planning, output handling, and ONE executor suite run on both executors.

The Docker half of the suite carries the `docker` marker and skips only when no engine answers.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

import pytest

from tests.sandbox_conftest_helpers import TEST_CONFIG, our_containers, require_docker
from trainer_agent.sandbox.base import JobResult, OutputCollector, describe_exit
from trainer_agent.sandbox.config import format_size, load_config, parse_size
from trainer_agent.sandbox.docker_sandbox import parse_oom_kills
from trainer_agent.sandbox.gpu import device_requests, plan_gpus
from trainer_agent.skills.errors import UserError

# -- pure parts -----------------------------------------------------------------------------------


def test_sizes_parse_and_format() -> None:
    assert parse_size("512m") == 512 * 1024**2
    assert parse_size("4g") == 4 * 1024**3
    assert parse_size("1.5G") == int(1.5 * 1024**3)
    assert parse_size(1000) == 1000
    assert format_size(512 * 1024**2) == "512 MiB"
    assert format_size(int(1.5 * 1024**3)) == "1.5 GiB"
    with pytest.raises(ValueError):
        parse_size("lots")


def test_config_loads_project_yaml_and_overrides(tmp_path: Path) -> None:
    cfg = load_config()
    assert cfg.network is False and cfg.memory_bytes == 4 * 1024**3 and cfg.gpus == "all"
    assert load_config(memory="1g", gpus="2").memory_bytes == 1024**3
    assert load_config(gpus="2").gpus == 2
    bad = tmp_path / "trainer_agent.sandbox.yaml"
    bad.write_text("memory: plenty\n")
    with pytest.raises(UserError, match="trainer_agent.sandbox.yaml"):
        load_config(bad)
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_device_requests_for_gpu_settings() -> None:
    assert device_requests("none") == []
    assert device_requests(0) == []
    assert device_requests("all") == [{"driver": "nvidia", "count": -1, "capabilities": [["gpu"]]}]
    assert device_requests(2)[0]["count"] == 2
    # CUDA_VISIBLE_DEVICES is honoured: exactly those devices, or the first N of them.
    assert device_requests("all", "1,3")[0]["device_ids"] == ["1", "3"]
    assert device_requests(1, "GPU-abc,GPU-def")[0]["device_ids"] == ["GPU-abc"]
    assert device_requests("all", "") == []
    assert device_requests("all", "-1") == []
    import docker

    req = docker.types.DeviceRequest(**device_requests("all")[0])
    assert req["Count"] == -1 and req["Capabilities"] == [["gpu"]]


def test_gpu_plan_says_why_it_runs_on_cpu() -> None:
    one_gpu = ["GPU 0: NVIDIA H100 (UUID: GPU-1)"]
    no_host = plan_gpus(
        "all", runtimes={"runc": {}}, hook_on_path=False, host_gpus=[], cuda_visible_devices=None
    )
    assert not no_host.uses_gpu and "no NVIDIA GPU" in no_host.note
    no_rt = plan_gpus(
        "all", runtimes={"runc": {}}, hook_on_path=False, host_gpus=one_gpu, cuda_visible_devices=None
    )
    assert not no_rt.uses_gpu and "nvidia-container-toolkit" in no_rt.note
    off = plan_gpus(
        "none", runtimes={"nvidia": {}}, hook_on_path=True, host_gpus=one_gpu, cuda_visible_devices=None
    )
    assert not off.uses_gpu and "switched off" in off.note
    on = plan_gpus(
        "all", runtimes={"nvidia": {}}, hook_on_path=False, host_gpus=one_gpu, cuda_visible_devices=None
    )
    assert on.uses_gpu and on.device_requests[0]["count"] == -1 and "jobs get NVIDIA GPUs" in on.note
    hook = plan_gpus(
        1, runtimes={"runc": {}}, hook_on_path=True, host_gpus=one_gpu * 2, cuda_visible_devices="1"
    )
    assert hook.device_requests[0]["device_ids"] == ["1"]


def test_exit_reasons_are_sentences() -> None:
    assert describe_exit(0, duration_s=1.25) == "finished in 1.2 s"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-9, timed_out=True, timeout=30) == "timed out after 30 s"
    assert describe_exit(137, oom=True, memory_limit=512 * 1024**2) == "ran out of memory (limit 512 MiB)"
    assert describe_exit(137).startswith("was stopped by SIGKILL")
    assert describe_exit(-24) == "was stopped by SIGXCPU (CPU time limit)"


def test_output_collector_streams_lines_and_keeps_the_tail() -> None:
    lines: list[str] = []
    c = OutputCollector(lines.append, max_chars=1000)
    c.feed(b"one\ntw")
    c.feed(b"o\n\xc3")  # a UTF-8 character split across chunks
    c.feed(b"\xa9t\xc3\xa9")
    c.close()
    assert lines == ["one", "two", "été"]
    big = OutputCollector(None, max_chars=1000)
    for i in range(500):
        big.feed(f"line {i:04d}\n".encode())
    assert big.text.startswith("[... ") and big.text.endswith("line 0499\n")
    assert len(big.text) < 1100


def test_oom_counter_parsing() -> None:
    assert parse_oom_kills("low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\n") == 2  # cgroup v2
    assert parse_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n") == 0  # cgroup v1
    assert parse_oom_kills("") is None


def test_job_result_ok_needs_the_result_file(tmp_path: Path) -> None:
    assert JobResult(0, "", 0.1).ok
    assert not JobResult(0, "", 0.1, result_path=str(tmp_path / "none.json")).ok
    assert not JobResult(1, "", 0.1).ok
    assert not JobResult(0, "", 0.1, timed_out=True).ok


def test_image_requirements_are_the_runtime_closure() -> None:
    from trainer_agent.sandbox.image import runtime_requirements

    pins = {p.split("==")[0].lower().replace("_", "-"): p for p in runtime_requirements()}
    for needed in ("torch", "scikit-learn", "onnxruntime", "transformers", "pydantic", "autogen", "docker"):
        assert needed in pins, needed
    for dev in ("pytest", "ruff", "mypy", "pexpect"):
        assert dev not in pins, dev
    assert all("==" in p for p in pins.values())


def test_make_sandbox_local_and_unknown(tmp_path: Path) -> None:
    from trainer_agent.sandbox import make_sandbox

    with make_sandbox("local", tmp_path, TEST_CONFIG) as sb:
        assert sb.kind == "local" and "less isolated" in sb.description
    with pytest.raises(UserError, match="Unknown sandbox"):
        make_sandbox("vm", tmp_path, TEST_CONFIG)


def test_make_sandbox_auto_says_which_and_why(tmp_path: Path) -> None:
    from tests.sandbox_conftest_helpers import docker_client
    from trainer_agent.sandbox import make_sandbox

    missing = TEST_CONFIG.model_copy(update={"image": "trainer-agent-no-such-image:0"})
    with make_sandbox("auto", tmp_path, missing) as sb:
        assert sb.kind == "local"
        why = "not built" if docker_client() is not None else "no Docker engine"
        assert why in sb.description
    with pytest.raises(UserError, match="--sandbox docker cannot be used"):
        make_sandbox("docker", tmp_path, missing)


# -- the executor suite: the same tests on both executors ----------------------------------------


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)], name="sb")
def _sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    workspace = tmp_path_factory.mktemp(f"ws-{request.param}")
    if request.param == "docker":
        client = require_docker()
        from trainer_agent.sandbox.docker_sandbox import DockerSandbox

        sb = DockerSandbox(workspace, TEST_CONFIG, client=client)
    else:
        from trainer_agent.sandbox.local import LocalSandbox

        sb = LocalSandbox(workspace, TEST_CONFIG)
    yield sb
    sb.close()
    if request.param == "docker":
        assert our_containers(client) == [], "the sandbox left a container behind"


def test_hello_world(sb) -> None:
    res = sb.run(["python", "-c", "print('hello from the sandbox')"], timeout=60)
    assert res.exit_code == 0 and res.ok
    assert res.output == "hello from the sandbox\n"
    assert res.reason.startswith("finished in") and not res.timed_out and not res.oom_killed


def test_exit_codes_and_stderr(sb) -> None:
    res = sb.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=30)
    assert res.exit_code == 3 and not res.ok
    assert res.reason == "exited with code 3"
    assert "out\n" in res.output and "err\n" in res.output
    assert sb.run(["false"], timeout=30).exit_code == 1


def test_output_streams_while_the_command_runs(sb) -> None:
    seen: list[tuple[float, str]] = []
    code = "import time\nprint('first', flush=True)\ntime.sleep(1.0)\nprint('second')"
    res = sb.run(
        ["python", "-c", code], timeout=60, on_output=lambda line: seen.append((time.monotonic(), line))
    )
    done = time.monotonic()
    assert [line for _, line in seen] == ["first", "second"]
    assert done - seen[0][0] >= 0.8, "the first line arrived only at the end, not streamed"
    assert res.output == "first\nsecond\n"


def test_env_vars_reach_the_command(sb) -> None:
    res = sb.run(["sh", "-c", 'echo "$GREETING-$OTHER"'], timeout=30, env={"GREETING": "hi", "OTHER": "x y"})
    assert res.output == "hi-x y\n"


def test_workspace_files_go_both_ways(sb) -> None:
    (sb.workspace / "from_host.txt").write_text("host data\n")
    sub = sb.workspace / "made_by_host"
    sub.mkdir(exist_ok=True)
    code = (
        "from pathlib import Path\n"
        "print(Path('from_host.txt').read_text(), end='')\n"
        "Path('from_job.txt').write_text('job data\\n')\n"
        "Path('made_by_host/inner.txt').write_text('inner\\n')\n"
    )
    res = sb.run(["python", "-c", code], timeout=60)
    assert res.ok, res.output
    assert res.output == "host data\n"
    assert (sb.workspace / "from_job.txt").read_text() == "job data\n"
    assert (sub / "inner.txt").read_text() == "inner\n"


def test_timeout_stops_the_command_and_the_sandbox_goes_on(sb) -> None:
    t0 = time.monotonic()
    res = sb.run(["python", "-c", "import time; print('start', flush=True); time.sleep(60)"], timeout=1.5)
    assert res.timed_out and not res.ok
    assert res.reason == "timed out after 1.5 s"
    assert "start" in res.output
    assert time.monotonic() - t0 < 15
    assert sb.run(["echo", "still here"], timeout=30).output == "still here\n"


def test_memory_hog_is_reported_as_out_of_memory(sb) -> None:
    # 1 GiB touched (not just reserved) against a 512 MiB limit: RLIMIT_AS or the cgroup stops it.
    res = sb.run(["python", "-c", "x = b'x' * (1024**3); print(len(x))"], timeout=60)
    assert res.oom_killed and not res.ok
    assert res.reason == "ran out of memory (limit 512 MiB)"
    assert sb.run(["echo", "after"], timeout=30).output == "after\n"


def _write_spec(sb, name: str, spec: dict) -> Path:
    path = sb.workspace / name
    path.write_text(json.dumps(spec))
    return path


def test_run_job_spec_in_result_out(sb) -> None:
    jobs = sb.workspace / "jobs"
    jobs.mkdir(exist_ok=True)
    spec = _write_spec(
        sb, "jobs/spec.json", {"numbers": [1, 2, 39], "say": ["loading", "training"], "write": "extra.txt"}
    )
    lines: list[str] = []
    res = sb.run_job(
        "trainer_agent.sandbox.jobs_selftest", spec, "jobs/result.json", timeout=60, on_output=lines.append
    )
    assert res.ok, res.output
    assert lines == ["loading", "training"]
    assert res.result_path == str(jobs / "result.json")
    result = json.loads((jobs / "result.json").read_text())
    assert result["sum"] == 42
    assert result["cwd"] == sb.to_sandbox_path(sb.workspace)
    assert result["spec_path"] == sb.to_sandbox_path(spec)
    assert result["python"].startswith("3.11")
    assert (jobs / "extra.txt").read_text() == "written by the job\n"


def test_run_job_failures_are_clear(sb) -> None:
    spec = _write_spec(sb, "bad_spec.json", {"exit_code": 4})
    res = sb.run_job("trainer_agent.sandbox.jobs_selftest", spec, "bad_result.json", timeout=60)
    assert res.exit_code == 4 and not res.ok and res.reason == "exited with code 4"
    res = sb.run_job("trainer_agent.sandbox.no_such_job", spec, "none.json", timeout=60)
    assert res.exit_code == 1 and "No module named trainer_agent.sandbox.no_such_job" in res.output
    with pytest.raises(UserError, match="does not exist"):
        sb.run_job("trainer_agent.sandbox.jobs_selftest", "missing.json", "r.json", timeout=60)


def test_run_job_without_result_file_is_not_ok(sb) -> None:
    spec = _write_spec(sb, "quiet.json", {})
    res = sb.run_job("this", spec, "never_written.json", timeout=60)  # the Zen of Python ignores its args
    assert res.exit_code == 0 and not res.ok
    assert res.reason == "finished but wrote no result file never_written.json"


def test_stale_result_is_removed_before_the_job(sb) -> None:
    spec = _write_spec(sb, "fail.json", {"exit_code": 2})
    (sb.workspace / "stale.json").write_text("{}")
    sb.run_job("trainer_agent.sandbox.jobs_selftest", spec, "stale.json", timeout=60)
    # The job writes its result and then exits 2: the result is fresh, not the stale one.
    assert json.loads((sb.workspace / "stale.json").read_text())["sum"] == 0


def test_concurrent_runs_are_serialised(sb) -> None:
    results: list[JobResult] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(sb.run(["echo", str(i)], timeout=30)))
        for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.output for r in results) == ["0\n", "1\n", "2\n"]


def test_ag2_code_executor_runs_blocks_in_the_sandbox(sb) -> None:
    from autogen.coding import CodeBlock, CodeExecutor

    from trainer_agent.sandbox.ag2 import SandboxCodeExecutor

    ex = SandboxCodeExecutor(sb, timeout=60)
    assert isinstance(ex, CodeExecutor)
    res = ex.execute_code_blocks(
        [CodeBlock(code="print(6 * 7)", language="python"), CodeBlock(code="echo shell ok", language="bash")]
    )
    assert res.exit_code == 0 and res.output == "42\nshell ok\n"
    assert res.code_file is not None and Path(res.code_file).read_text() == "print(6 * 7)"
    bad = ex.execute_code_blocks(
        [
            CodeBlock(code="import sys; sys.exit(5)", language="py"),
            CodeBlock(code="echo never", language="sh"),
        ]
    )
    assert bad.exit_code == 5 and "never" not in bad.output and "exited with code 5" in bad.output
    slow = SandboxCodeExecutor(sb, timeout=1).execute_code_blocks([CodeBlock(code="sleep 20", language="sh")])
    assert slow.exit_code != 0 and "timed out after 1 s" in slow.output
    assert ex.execute_code_blocks([CodeBlock(code="x", language="rust")]).exit_code == 1


def test_background_process_does_not_hold_the_command(sb) -> None:
    t0 = time.monotonic()
    res = sb.run(["sh", "-c", "sleep 61.25 & echo started"], timeout=30)
    assert res.ok and res.output == "started\n"
    assert time.monotonic() - t0 < 10, "the command waited for its background child"
    scan = (
        "import pathlib\n"
        "n = 0\n"
        "for p in pathlib.Path('/proc').glob('[0-9]*/cmdline'):\n"
        "    try:\n"
        "        n += b'61.' b'25' in p.read_bytes()\n"  # split, so this script does not match itself
        "    except OSError:\n"
        "        pass\n"
        "print(n)\n"
    )
    assert sb.run(["python", "-c", scan], timeout=30).output == "0\n", (
        "the background child outlived its command"
    )


def test_a_local_job_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """kill -9 of trainer-agent cannot clean up, and the job leads its own session: the kernel
    takes it down (parent-death signal), so it never trains on in a run directory unowned."""
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    starter = (
        "import sys\n"
        "from trainer_agent.sandbox.local import LocalSandbox\n"
        "from tests.sandbox_conftest_helpers import TEST_CONFIG\n"
        "sb = LocalSandbox(sys.argv[1], TEST_CONFIG)\n"
        "sb.run(['python', '-c', 'import os, time; print(os.getpid(), flush=True); time.sleep(120)'],\n"
        "       timeout=300, on_output=lambda line: print(line, flush=True))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", starter, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert proc.stdout is not None
    job = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    def gone() -> bool:
        try:
            return "\nState:\tZ" in Path(f"/proc/{job}/status").read_text()
        except OSError:
            return True

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not gone():
        time.sleep(0.05)
    try:
        assert gone(), "the job outlived the process that started it"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(job, signal.SIGKILL)


def test_wheelhouse_lookup_matches_normalised_names(tmp_path: Path) -> None:
    from trainer_agent.sandbox.image import _wheel_file

    for name in (
        "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
        "zope.interface-7.0-py3-none-any.whl",
    ):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "typing_extensions-4.16.0-py3-none-any.whl").write_bytes(b"")
    assert _wheel_file("torch==2.13.0+cpu", tmp_path).name.startswith("torch-2.13.0+cpu")
    assert _wheel_file("zope-interface==7.0", tmp_path) is not None
    assert _wheel_file("typing-extensions==4.16.0", tmp_path) is not None
    assert _wheel_file("torch==2.12.0", tmp_path) is None
