"""AG2 glue: a `CodeExecutor` that runs an agent's code blocks in a `Sandbox`.

    from trainer_agent.sandbox.ag2 import SandboxCodeExecutor
    user = UserProxyAgent("user", code_execution_config={"executor": SandboxCodeExecutor(sb)})

Each block is saved under `<workspace>/code/` and run with the sandbox's Python or shell, so
LLM-written code gets the same isolation, limits and reasons ("ran out of memory ...") as jobs.
Imports autogen; only the agents layer (and tests) import this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from autogen.coding.base import CodeBlock, CodeExtractor, CommandLineCodeResult
from autogen.coding.markdown_code_extractor import MarkdownCodeExtractor

from trainer_agent.sandbox.base import Sandbox

_ALIASES = {"py": "python", "python3": "python", "shell": "sh", "bash": "bash", "sh": "sh"}
_SUFFIX = {"python": ".py", "sh": ".sh", "bash": ".sh"}


class SandboxCodeExecutor:
    """Implements `autogen.coding.CodeExecutor` on top of any `Sandbox` (Docker or local)."""

    def __init__(
        self,
        sandbox: Sandbox,
        timeout: float | None = None,
        on_output: Callable[[str], None] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.timeout = timeout
        self.on_output = on_output

    @property
    def code_extractor(self) -> CodeExtractor:
        return MarkdownCodeExtractor()

    def execute_code_blocks(self, code_blocks: list[CodeBlock]) -> CommandLineCodeResult:
        """Run the blocks in order; stop at the first that fails and say why."""
        outputs: list[str] = []
        code_file: str | None = None
        exit_code = 0
        code_dir = self.sandbox.workspace / "code"
        code_dir.mkdir(exist_ok=True)
        for block in code_blocks:
            lang = _ALIASES.get(block.language.lower().strip(), block.language.lower().strip())
            if lang not in _SUFFIX:
                outputs.append(f"unsupported language {block.language!r}: use python or sh\n")
                exit_code = 1
                break
            digest = hashlib.sha256(block.code.encode()).hexdigest()[:12]
            path = code_dir / f"block_{digest}{_SUFFIX[lang]}"
            path.write_text(block.code)
            code_file = code_file or str(path)
            interpreter = self.sandbox.python if lang == "python" else lang
            res = self.sandbox.run(
                [interpreter, self.sandbox.to_sandbox_path(path)],
                timeout=self.timeout,
                on_output=self.on_output,
            )
            outputs.append(res.output)
            exit_code = res.exit_code if res.exit_code != 0 else (1 if res.timed_out else 0)
            if not res.ok:
                outputs.append(f"\n[sandbox] the code {res.reason}\n")
                exit_code = exit_code or 1
                break
        return CommandLineCodeResult(exit_code=exit_code, output="".join(outputs), code_file=code_file)

    def restart(self) -> None:
        """Nothing to reset: every block runs as a fresh process."""
