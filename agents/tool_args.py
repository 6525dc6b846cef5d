"""The decisions the agents' tools take as arguments, typed and validated (pydantic), declared once.

The tools (`agents.tools`) validate what a brain passes against these models, an LLM is offered
their JSON schemas, and the offline policy (`agents.brains.offline`) fills them in itself, so its
decisions are tool calls with arguments in the transcript like an LLM's. A value that does not
validate is one sentence back to the agent, never a stopped run.

    Experiment(families=["lightgbm"], budget_s=120, why="a larger budget").model_dump()
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainer_agent.skills.data.label_errors import DEFAULT_MIN_CONFIDENCE

DEFAULT_TEST_FRACTION = 0.2


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoArgs(ToolArgs):
    """A tool with no decision to take (reading the request, writing the report)."""


class DataArgs(ToolArgs):
    """The Data agent's decisions for `prepare_data`."""

    test_fraction: float = Field(
        default=DEFAULT_TEST_FRACTION,
        ge=0.05,
        le=0.5,
        description="share of the cleaned rows held out as the test set (stratified) when the person "
        "gave no test file",
    )
    relabel_min_confidence: float = Field(
        default=DEFAULT_MIN_CONFIDENCE,
        ge=0.5,
        le=1.0,
        description="only rows the label check is at least this sure of are proposed for relabelling; "
        "a proposal is applied only when it wins a trial scored on the person's own labels",
    )
    use_catalog: list[str] | None = Field(
        default=None,
        max_length=10,
        description="names of data sets in the catalog to try adding to the training data: each is "
        "added only when it wins a trial scored on the person's own rows and the person approves; "
        "null: the compatible ones (same input columns and labels), []: none",
    )


class Experiment(ToolArgs):
    """The Model agent's decisions for one `train_model` call: one experiment. The first trains the
    run's model; a later one (a remedy) is kept only when its validation score is better."""

    families: list[str] | None = Field(
        default=None,
        min_length=1,
        description="catalog families to try (the plan lists the task's defaults); null: the defaults",
    )
    budget_s: float | None = Field(
        default=None,
        gt=0,
        le=24 * 3600,
        description="seconds for choosing and tuning; null: the plan's budget, sized to the data",
    )
    max_trials: int | None = Field(
        default=None, ge=1, le=1000, description="at most this many tuning trials per study"
    )
    distill: bool | None = Field(
        default=None,
        description="true: also distil a teacher into a student within the limits; false: never; null: "
        "only when the chosen model misses a target",
    )
    why: str = Field(
        default="", max_length=300, description="why this experiment, for the chat and the report"
    )


class ExportArgs(ToolArgs):
    """The Server agent's decisions for `export_model`."""

    quantize: bool | None = Field(
        default=None,
        description="try an int8 copy: true: try it; false: never; null: only when a size, memory or "
        "latency limit is stated. It is served only when it holds parity and measures better on what "
        "the limits ask (smaller and no slower when none is stated)",
    )


class ServeArgs(ToolArgs):
    """The Server agent's decisions for `deploy_service`."""

    replicas: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="replicas in the deployment manifests; null: sized from one replica's measured "
        "capacity and the QPS and latency targets",
    )
    load_test_s: float = Field(
        default=5.0, ge=1.0, le=60.0, description="seconds of the load test at the planned rate"
    )


# Each step's arguments, by step name (the steps are `skills.pipeline.PIPELINE`).
ARGS: dict[str, type[ToolArgs]] = {
    "parse": NoArgs,
    "data": DataArgs,
    "train": Experiment,
    "export": ExportArgs,
    "serve": ServeArgs,
    "report": NoArgs,
}


def validate(step: str, given: dict[str, Any]) -> ToolArgs:
    """The step's arguments from what a brain passed; `ValueError` with one sentence if invalid."""
    model = ARGS[step]
    try:
        return model.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "arguments"
        raise ValueError(f"{where}: {first.get('msg', 'invalid')}") from None


def shown(args: ToolArgs) -> dict[str, Any]:
    """The arguments as the transcript and the chat show them: every field, defaults included."""
    return args.model_dump(mode="json")
