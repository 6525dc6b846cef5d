"""Approval of risky steps by the person (the `user` proxy's job), under the `--approve` policy.

`auto` approves everything (batch runs); `ask` asks on the terminal and denies when there is no
terminal to ask. Every decision is recorded in the transcript with who or what decided.
"""

from __future__ import annotations

import sys

from agents.run_state import Run


def approve(run: Run, kind: str, description: str) -> bool:
    policy = run.options.approve
    if policy == "auto":
        granted, by = True, "policy: --approve auto"
    elif sys.stdin is not None and sys.stdin.isatty():
        answer = input(f"Approve: {description}? [y/N] ").strip().lower()
        granted, by = answer in ("y", "yes"), "person at the terminal"
    else:
        granted, by = False, "policy: --approve ask, but no terminal to ask"
    run.transcript.write(
        {
            "type": "approval",
            "kind": kind,
            "description": description,
            "decision": "approve" if granted else "deny",
            "by": by,
        }
    )
    return granted
