#!/usr/bin/env python
"""The Task agent's judgement on the in-repo request set (tests/data/check_eval.jsonl), per decision
class, with the ethics judges `check` uses by default and with the phrase guard alone.

    .venv/bin/python scripts/bench/check_eval.py

Runs scripts/eval_check.py twice in fresh processes: once as installed (offline guard + the
meaning judge when the `pretrained` extra is there), once with TRAINER_AGENT_MODEL_PACKAGES=off
(the guard alone). Writes results/check_eval.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchlib import PYTHON, ROOT, write_result

RUNS = {
    "default judges": {},
    "phrase guard alone": {"TRAINER_AGENT_MODEL_PACKAGES": "off"},
}


def main() -> None:
    started = time.time()
    runs = []
    with tempfile.TemporaryDirectory(prefix="check_eval_") as tmp:
        for name, env in RUNS.items():
            out = Path(tmp) / "summary.json"
            home = Path(tmp) / name.replace(" ", "_")
            proc = subprocess.run(
                [str(PYTHON), str(ROOT / "scripts" / "eval_check.py"), "--json", str(out)],
                capture_output=True,
                text=True,
                env={**os.environ, "TRAINER_AGENT_HOME": str(home), **env},
                check=False,
            )
            summary = json.loads(out.read_text())["summary"]
            judges = proc.stdout.splitlines()[0].split("ethics judges: ", 1)[-1]
            runs.append({"name": name, "judges": judges, "summary": summary, "exit": proc.returncode})
            print(f"{name}: {summary['correct']}/{summary['n']} ({judges})")
    write_result("check_eval", {"runs": runs}, started)


if __name__ == "__main__":
    main()
