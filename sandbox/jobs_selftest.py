"""A tiny job for testing executors: reads a JSON spec, writes a JSON result.

    python -m trainer_agent.sandbox.jobs_selftest spec.json result.json

Spec keys (all optional): "numbers" (list, summed), "say" (printed line by line), "exit_code",
"write" (file name to create next to the result). The result records what the job saw.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text())
    for line in spec.get("say", []):
        print(line, flush=True)
    if spec.get("write"):
        (result_path.parent / spec["write"]).write_text("written by the job\n")
    result = {
        "sum": sum(spec.get("numbers", [])),
        "cwd": os.getcwd(),
        "spec_path": str(spec_path),
        "uid": os.getuid(),
        "python": sys.version.split()[0],
    }
    result_path.write_text(json.dumps(result))
    return int(spec.get("exit_code", 0))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
