"""Start the model's web service as a background process, check it, load it, and stop it.

    d = start_service("runs/<id>/exports/model.onnx", "runs/<id>")   # -> Deployment
    smoke_test(d.url, examples[:3]); measure_service(d.url, examples)
    stop_service("runs/<id>")

The service runs `python -m trainer_agent.skills.serve.service_app` in its own session and process
group (it outlives a crash of the caller, and stops with `stop_service` or `kill <pid>`).
`run_dir/service/service.json` records its host, port and model just before it is spawned and its
pid and process group the moment it is (`ready` false until /ready answers), so `status`, `stop`, a
resumed run or an interrupted one's clean-up can always find and reap it, even after a kill -9
between the spawn and the pid's record (then found by its command line);
`run_dir/service/service.log` holds its output.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from trainer_agent.skills.atomic_write import write_atomic
from trainer_agent.skills.child_env import child_env
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.serve.docs_pages import DOCS_SCRIPT
from trainer_agent.skills.specs import Deployment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
API_KEY_ENV = "TRAINER_AGENT_API_KEY"  # same as skills.serve.service_app.API_KEY_ENV (not imported: heavy)
STATE_FILE = "service.json"
LOG_FILE = "service.log"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie child is reaped and counts as gone)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: look at /proc
    status = Path(f"/proc/{pid}/status")
    try:
        text = status.read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return "\nState:\tZ" not in text


def _is_service(pid: int) -> bool:
    """Whether `pid` is a skills.serve.service_app process (guards against a recycled pid)."""
    try:
        return b"trainer_agent.skills.serve.service_app" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _alive(pid)  # no /proc (macOS): trust service.json


def _headers(api_key: str | None) -> dict[str, str]:
    return {"X-API-Key": api_key} if api_key else {}


def _launch(
    model: Path,
    svc_dir: Path,
    host: str,
    port: int,
    api_key: str | None,
    cpus: str | None = None,
    threads: int | None = None,
) -> subprocess.Popen:

    env = child_env()  # an allow-list: no LLM keys or cloud credentials (skills/child_env.py)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    if api_key:
        env[API_KEY_ENV] = api_key  # the service's own key, the one secret it gets
    cmd = [
        sys.executable,
        "-m",
        "trainer_agent.skills.serve.service_app",
        "--model",
        str(model),
        "--host",
        host,
        "--port",
        str(port),
        *(["--cpus", cpus] if cpus else []),
        *(["--threads", str(threads)] if threads else []),
    ]
    with open(svc_dir / LOG_FILE, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting on {host}:{port}\n".encode())
        log.flush()
        return subprocess.Popen(
            cmd,
            cwd=str(PROJECT_ROOT),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _record(svc_dir: Path, state: dict[str, Any]) -> None:
    """Write service.json atomically (a kill mid-write leaves the old record or the new one)."""

    write_atomic(svc_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")


def start_service(
    model_path: str | Path,
    run_dir: str | Path,
    port: int | None = None,
    host: str = "127.0.0.1",
    timeout: float = 30,
    api_key: str | None = None,
    cpus: str | None = None,
    threads: int | None = None,
) -> Deployment:
    """Launch the service for `model_path`, wait until /ready answers, and record it in
    run_dir/service/service.json. A service already recorded there is stopped first.
    `cpus` pins it to those CPUs (e.g. "1": one replica's share); `threads`: onnxruntime threads."""
    import httpx

    model = Path(model_path).resolve()
    if not model.is_file():
        raise UserError(f"Model file {model} does not exist; export the model before deploying it.")
    svc_dir = Path(run_dir) / "service"
    svc_dir.mkdir(parents=True, exist_ok=True)
    stop_service(run_dir)
    log_path = svc_dir / LOG_FILE

    # A free port can be taken between choosing and binding it; then try another one.
    for attempt in range(3 if port is None else 1):
        chosen = port or free_port(host)
        url = f"http://{host}:{chosen}"
        state: dict[str, Any] = {
            "url": url,
            "pid": None,  # not spawned yet: a kill -9 from here on leaves the port and model to find it by
            "pgid": None,
            "port": chosen,
            "host": host,
            "model_path": str(model),
            "log": str(log_path),
            "cpus": cpus,
            "threads": threads,
            "api_key": bool(api_key),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "ready": False,
        }
        _record(svc_dir, state)  # before the spawn, so whoever comes next can always reap it
        proc = _launch(model, svc_dir, host, chosen, api_key, cpus, threads)
        # it leads its own session and group (start_new_session)
        state.update(pid=proc.pid, pgid=proc.pid)
        try:
            _record(svc_dir, state)
        except BaseException:
            _terminate(proc.pid)
            (svc_dir / STATE_FILE).unlink(missing_ok=True)
            raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                if httpx.get(f"{url}/ready", timeout=1.0).status_code == 200:
                    _record(svc_dir, {**state, "ready": True})
                    return Deployment(
                        url=url,
                        docs_url=f"{url}/docs",
                        metrics_url=f"{url}/metrics",
                        running=True,
                        pid=proc.pid,
                    )
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        if proc.poll() is None:  # timed out while running
            stop_service(run_dir)
            raise UserError(
                f"The model service did not answer on {url} within {timeout:g} s; see {log_path}: "
                f"{_tail(log_path)}"
            )
        (svc_dir / STATE_FILE).unlink(missing_ok=True)  # it exited: nothing to reap
        if attempt == 2 or port is not None or "address already in use" not in _tail(log_path).lower():
            raise UserError(
                f"The model service exited with code {proc.returncode} before answering; see {log_path}: "
                f"{_tail(log_path)}"
            )
    raise AssertionError("unreachable")


def _terminate(pid: int, grace: float = 5.0, pgid: int | None = None) -> None:
    """SIGTERM the service's process group, SIGKILL it after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid or pid, sig)  # the service leads its own session/group (start_new_session)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)


def _flag(words: list[bytes], name: bytes) -> bytes | None:
    """The word after `name` in a command line split into words, or None."""
    return words[words.index(name) + 1] if name in words[:-1] else None


def _spawned_unrecorded(recorded: dict[str, Any]) -> int | None:
    """The service a record made just before its spawn names (no pid yet: its owner died between
    the spawn and recording the pid): the service_app process started for its model and port."""
    want = {
        b"--model": str(recorded.get("model_path")).encode(),
        b"--port": str(recorded.get("port")).encode(),
    }
    proc = Path("/proc")
    for entry in proc.iterdir() if proc.is_dir() else ():
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if b"trainer_agent.skills.serve.service_app" in words and all(
            _flag(words, k) == v for k, v in want.items()
        ):
            return int(entry.name)
    return None


def _recorded_pid(recorded: Any) -> tuple[int, int] | None:
    """The (pid, process group) of the service a service.json record names, or None when it names
    none: unreadable, or recorded before its spawn and no such process runs."""
    if not isinstance(recorded, dict):
        return None
    try:
        if recorded.get("pid") is None:
            pid = _spawned_unrecorded(recorded)
            return None if pid is None else (pid, pid)  # it leads its own group (start_new_session)
        pid = int(recorded["pid"])
        return pid, int(recorded.get("pgid") or pid)
    except (ValueError, KeyError, TypeError):
        return None


def stop_service(run_dir: str | Path) -> bool:
    """Stop the service recorded in run_dir/service/service.json and remove that file.
    Returns whether a running service was stopped."""
    state_path = Path(run_dir) / "service" / STATE_FILE
    if not state_path.is_file():
        return False
    try:
        found = _recorded_pid(json.loads(state_path.read_text()))
    except (OSError, ValueError):
        found = None
    if found is None:
        state_path.unlink(missing_ok=True)
        return False
    pid, pgid = found
    stopped = False
    if _alive(pid) and _is_service(pid):
        _terminate(pid, pgid=pgid)
        stopped = True
    state_path.unlink(missing_ok=True)
    return stopped


def service_status(run_dir: str | Path) -> dict[str, Any]:
    """What run_dir/service/service.json records, whether that process runs, and what its /health
    and /ready say. `running` is False when no service is recorded or its process is gone."""
    import httpx

    state_path = Path(run_dir) / "service" / STATE_FILE
    if not state_path.is_file():
        return {"running": False, "reason": f"no service recorded in {state_path}"}
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError):
        state = None
    found = _recorded_pid(state)
    if not isinstance(state, dict) or (found is None and state.get("pid") is not None):
        return {"running": False, "reason": f"{state_path} is unreadable"}
    if found is None:
        return {**state, "running": False, "reason": "its process was never started"}
    pid = found[0]
    out: dict[str, Any] = {**state, "pid": pid, "pgid": found[1], "running": _alive(pid) and _is_service(pid)}
    if not out["running"]:
        out["reason"] = f"process {pid} is not running (see {state.get('log')})"
        return out
    for probe in ("health", "ready"):
        try:
            r = httpx.get(f"{state['url']}/{probe}", timeout=3.0)
            out[probe] = r.status_code
            if probe == "ready" and r.status_code == 200:
                out["model"] = r.json().get("model")
        except httpx.HTTPError as err:
            out[probe] = f"no answer: {err}"
    memory = _peak_rss_mib(pid)
    if memory is not None:
        out["peak_rss_mb"] = memory
    return out


def _metric(text: str, name: str, labels: str = "") -> float | None:
    pattern = (
        rf"^{re.escape(name)}{re.escape(labels)}\s+([0-9.eE+-]+)$"
        if labels
        else rf"^{re.escape(name)}\s+(\S+)$"
    )
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def smoke_test(url: str, examples: list[Any], api_key: str | None = None) -> dict[str, Any]:
    """POST /predict on `examples`, then GET /health, /docs and /metrics; `ok` says all passed."""
    import httpx

    out: dict[str, Any] = {"url": url}
    with httpx.Client(base_url=url, timeout=10.0) as client:
        r = client.post("/predict", json={"inputs": list(examples)}, headers=_headers(api_key))
        out["predict_status"] = r.status_code
        if r.status_code == 200:
            preds = r.json()["predictions"]
            out["predictions"] = [p.get("label", p.get("value")) for p in preds]
        else:
            out["predict_error"] = r.text[:300]
        r = client.get("/health")
        out["health_status"] = r.status_code
        out["health"] = r.json() if r.status_code == 200 else r.text[:200]
        # the page and the script it runs, from this service (no CDN): the worse of the two
        out["docs_status"] = max(client.get(p).status_code for p in ("/docs", DOCS_SCRIPT))
        r = client.get("/metrics")
        out["metrics_status"] = r.status_code
        counted = _metric(r.text, "trainer_agent_requests_total", '{endpoint="/predict",status="200"}')
        out["predict_requests_counted"] = counted or 0.0
    out["ok"] = (
        out["predict_status"] == 200
        and len(out.get("predictions", [])) == len(examples)
        and out["health"] == {"status": "ok"}
        and out["docs_status"] == 200
        and out["metrics_status"] == 200
        and out["predict_requests_counted"] > 0
    )
    return out


def _peak_rss_mib(pid: int) -> float | None:
    try:
        match = re.search(r"^VmHWM:\s+(\d+)\s+kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    except OSError:
        return None
    return round(int(match.group(1)) / 1024, 1) if match else None


def service_peak_memory_mb(url: str, pid: int | None = None) -> float | None:
    """Peak resident memory of the service in MiB: VmHWM of `pid` when given (and readable), else
    the service's own trainer_agent_peak_rss_bytes metric."""
    import httpx

    memory = _peak_rss_mib(pid) if pid else None
    if memory is None:
        try:
            peak = _metric(httpx.get(f"{url}/metrics", timeout=5.0).text, "trainer_agent_peak_rss_bytes")
            memory = round(peak / 2**20, 1) if peak else None
        except httpx.HTTPError:
            memory = None
    return memory


def measure_service(
    url: str,
    examples: list[Any],
    seconds: float = 2.0,
    concurrency: int = 4,
    pid: int | None = None,
    api_key: str | None = None,
) -> dict[str, float]:
    """Load the service with `concurrency` clients, each POSTing one example at a time for
    `seconds`. Returns qps (successful requests per second), p50_ms, p95_ms, errors, requests,
    and memory_mb: the server's peak resident memory in MiB (VmHWM of `pid`, or the service's
    own trainer_agent_peak_rss_bytes metric when no pid is given)."""
    import httpx
    import numpy as np

    if not examples:
        raise UserError("No examples to send to the service; the test set is empty.")
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop_at = time.perf_counter() + seconds

    def worker(k: int) -> None:
        with httpx.Client(base_url=url, timeout=10.0, headers=_headers(api_key)) as client:
            i = k
            while time.perf_counter() < stop_at:
                body = {"inputs": [examples[i % len(examples)]]}
                i += concurrency
                start = time.perf_counter()
                try:
                    ok = client.post("/predict", json=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies[k].append((time.perf_counter() - start) * 1000)
                else:
                    errors[k] += 1

    begin = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begin
    done = [x for lat in latencies for x in lat]
    out: dict[str, float] = {
        "qps": round(len(done) / elapsed, 1),
        "p50_ms": round(float(np.percentile(done, 50)), 3) if done else float("nan"),
        "p95_ms": round(float(np.percentile(done, 95)), 3) if done else float("nan"),
        "errors": float(sum(errors)),
        "requests": float(len(done) + sum(errors)),
        "concurrency": float(concurrency),
        "seconds": round(elapsed, 2),
    }
    memory = service_peak_memory_mb(url, pid)
    if memory is not None:
        out["memory_mb"] = memory
    return out
