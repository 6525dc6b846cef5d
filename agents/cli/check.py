"""`trainer-agent check REQUEST [--data PATH] [--test-data PATH] [--label COL] [--text COL] [--json]
[--llm SPEC]`.

Runs only the Task agent's judgement (and a quick look at the data: load it, infer the task) and
prints the decision (accept, ask, refuse, infeasible), the TaskSpec, the reasons, the questions,
the counter-proposal, the estimate and the plan. Nothing is trained and no run directory is
created. Exit codes as for `run`: 0 accept, 2 ask/refuse/infeasible, 1 bad input.

No AG2 import here. The ethics judges are the offline guard, the meaning judge when the local model
library has a sentence encoder (it loads the encoder: a few seconds), and with `--llm` an LLM that
reads the same policy (`agents.ethics_judges`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from trainer_agent.skills.specs import TaskSpec

EXIT_ACCEPT, EXIT_ERROR, EXIT_DECLINED = 0, 1, 2


def judge_request(
    request: str,
    data: str | Path | None = None,
    label: str | None = None,
    text: str | None = None,
    test_data: str | Path | None = None,
    llm: str | None = None,
) -> TaskSpec:
    """The Task agent's judgement of `request` on the data at `data` (None: no data), as `run` makes it.

    Raises:
        UserError: the request is empty, the data cannot be read, or a named column is missing.
    """
    from trainer_agent.skills.errors import UserError
    from trainer_agent.skills.task.requirements import parse_request
    from trainer_agent.skills.task.triage import triage

    if not request.strip():
        raise UserError("the request is empty; say what the model must do.")
    df = test_df = None
    if data is not None:
        from trainer_agent.skills.data.data_io import load_table

        df = load_table(data)
        test_df = load_table(test_data) if test_data is not None else None
    from trainer_agent.agents.ethics_judges import ethics_judges

    spec = parse_request(request.strip(), df, label=label, text_col=text)
    judges, spec.ethics_notes = ethics_judges(llm)
    return triage(spec, df, judges=judges, label_given=label is not None, test_df=test_df)


def check_payload(spec: TaskSpec) -> dict[str, Any]:
    """What `check --json` prints: the decision and its parts first, then the whole TaskSpec."""
    return {
        "decision": spec.decision,
        "reasons": spec.reasons,
        "questions": spec.questions,
        "readings": spec.readings,
        "refusal_category": spec.refusal_category,
        "ethics_judges": spec.ethics_judges,
        "ethics_notes": spec.ethics_notes,
        "proposal": [r.model_dump(mode="json") for r in spec.proposal],
        "estimate": spec.estimate,
        "plan": spec.plan,
        "task_spec": spec.model_dump(mode="json"),
    }


def _print_human(spec: TaskSpec) -> None:
    from rich.console import Console
    from rich.markup import escape

    from trainer_agent.skills.task.feasibility import describe
    from trainer_agent.skills.task.plan import plan_lines

    out = Console(highlight=False, soft_wrap=True)
    colour = {"accept": "green", "ask": "yellow", "refuse": "red", "infeasible": "red"}[spec.decision]
    out.print(f"[bold {colour}]Decision: {spec.decision}[/]")
    cols = [f"label '{spec.label_column}'"] if spec.label_column else []
    if spec.text_column:
        cols.append(f"text '{spec.text_column}'")
    if spec.feature_columns and not spec.text_column:
        cols.append(f"{len(spec.feature_columns)} feature columns")
    task = spec.task_type.value.replace("_", " ")
    out.print(escape(f"Task: {task}" + (f" ({', '.join(cols)})" if cols else "")))
    reqs = ", ".join(describe(r) for r in spec.requirements) or "none stated"
    out.print(escape(f"Requirements: {reqs}"))
    for reading in spec.readings:
        out.print(escape(f"Reading: {reading}"))
    if spec.refusal_category:
        out.print(escape(f"Policy category: {spec.refusal_category}"))
    out.print(escape(f"Ethics judged by: {spec.ethics_judges}"))
    for note in spec.ethics_notes:
        out.print(escape(f"  ({note})"))
    for title, items, mark in (("Reasons", spec.reasons, "-"), ("Questions", spec.questions, "?")):
        if items:
            out.print(f"{title}:")
            for item in items:
                out.print(escape(f"  {mark} {item}"))
    if spec.proposal:
        out.print(escape("Counter-proposal: " + ", ".join(describe(r) for r in spec.proposal)))
    if spec.estimate:
        e = spec.estimate
        out.print(
            escape(
                f"Estimate: about {e['seconds']:.0f} s ({e['seconds_low']:.0f}-{e['seconds_high']:.0f} s) on "
                f"{e['compute']}; {e['rows']:,} rows; LLM: {e['llm']}, cost ${e['llm_cost_usd']:.2f}"
            )
        )
    if spec.plan:
        out.print("Plan:")
        for line in plan_lines(spec.plan):
            out.print(escape(f"  {line}"))


def check(
    request: str,
    data: str | Path | None = None,
    label: str | None = None,
    text: str | None = None,
    as_json: bool = False,
    test_data: str | Path | None = None,
    llm: str | None = None,
) -> int:
    """Judge the request, print the result, and return the exit code (0 accept, 2 otherwise, 1 error)."""
    from trainer_agent.skills.errors import UserError

    try:
        spec = judge_request(request, data, label, text, test_data, llm)
    except UserError as err:
        sys.stderr.write(f"error: {err}\n")
        return EXIT_ERROR
    if as_json:
        sys.stdout.write(json.dumps(check_payload(spec), indent=2) + "\n")
    else:
        _print_human(spec)
    return EXIT_ACCEPT if spec.decision == "accept" else EXIT_DECLINED


def check_command(
    request: Annotated[
        str, typer.Argument(help="What the model must do, and the requirements, in plain words.")
    ],
    data: Annotated[
        Path | None, typer.Option("--data", help="Training data: CSV, TSV, JSONL or Parquet.")
    ] = None,
    test_data: Annotated[
        Path | None, typer.Option("--test-data", help="Held-out test data; a split of --data when absent.")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="Label column (inferred when absent).")] = None,
    text: Annotated[str | None, typer.Option("--text", help="Text column (inferred when absent).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the judgement as JSON on stdout.")] = False,
    llm: Annotated[
        str | None,
        typer.Option(
            "--llm", help="Also ask this LLM ('openai' or 'config:PATH') to judge the ethics policy."
        ),
    ] = None,
) -> None:
    """Judge REQUEST (ethics, feasibility, plan, estimate) without training anything."""
    raise typer.Exit(check(request, data, label, text, as_json, test_data, llm))
