"""LLM-written code: an AG2 CodeExecutor for the `user` proxy that runs python/sh blocks in the
run's sandbox after approval (`--approve`), and hands the output back to their author.

    executor = ApprovedCodeExecutor(run)     # llm_config's code_execution_config uses it
"""

from __future__ import annotations

from typing import Any

from trainer_agent.agents.approvals import approve
from trainer_agent.agents.run_state import Run
from trainer_agent.agents.sandbox_jobs import sandbox_for

CODE_TIMEOUT = 600.0
RUNNABLE = ("python", "py", "python3", "sh", "bash", "shell")


class ApprovedCodeExecutor:
    """An AG2 CodeExecutor for the `user` proxy: python/sh blocks run in the run's sandbox after approval.

    Other blocks (the ```json of a spec) are not code and are left alone. The sandbox is the run's
    (created on first use), so LLM-written code gets the same isolation and limits as jobs.
    """

    def __init__(self, run: Run, timeout: float = CODE_TIMEOUT) -> None:
        self.run = run
        self.timeout = timeout
        self.author: str | None = None

    @property
    def code_extractor(self) -> Any:
        from autogen.coding.markdown_code_extractor import MarkdownCodeExtractor

        return MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: list[Any]) -> Any:
        from autogen.coding.base import CommandLineCodeResult

        blocks = [b for b in code_blocks if b.language.lower().strip() in RUNNABLE]
        if not blocks:
            return CommandLineCodeResult(exit_code=0, output="no python or sh code block to run")
        first = next((line for line in blocks[0].code.splitlines() if line.strip()), "")[:80]
        who = self.author or "an agent"
        description = f"run {len(blocks)} code block(s) written by {who} in the sandbox (starting: {first})"
        if not approve(self.run, "execute_code", description):
            self.run.transcript.event("code_denied", author=who, blocks=len(blocks))
            return CommandLineCodeResult(
                exit_code=1, output="not run: running this code was not approved (--approve)."
            )
        from trainer_agent.sandbox.ag2 import SandboxCodeExecutor

        result = SandboxCodeExecutor(sandbox_for(self.run), timeout=self.timeout).execute_code_blocks(blocks)
        self.run.transcript.event(
            "code_executed",
            author=who,
            exit_code=result.exit_code,
            file=result.code_file,
            output=result.output[-2000:],
        )
        return result

    def restart(self) -> None:
        """Nothing to reset: every block runs as a fresh process."""
