"""The pipeline table: every step, the agent that owns it, the tool that performs it, the steps it
needs first, and what it produces. Declared here once; routing, the brains, the plan, the person
model, the agents' prompts and tools, and the tool executor all read it.

Prerequisites are the only hard order: a step may run once every step it needs (directly or
through another) has finished. A request that is not accepted still runs the stop steps (read it,
then report why), and for it the report needs only the parse.

    from trainer_agent.skills.pipeline import PIPELINE, owner, tool_for, missing
    owner("train"), tool_for("train")          # ('model_agent', 'train_model')
    missing("report", {"parse", "data"})       # ('train', 'export', 'serve')
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One step of the pipeline.

    Attributes:
        name: the step's name in `state.json` and the plan.
        owner: the agent that calls its tool.
        tool: the tool (skill) that performs it, with its decisions as arguments
            (`agents.tool_args`); it runs once per run (`Run.step`), except that each further
            `train_model` call is another experiment (`agents.experiments`).
        requires: the steps that must have finished first (directly; `missing` follows them on).
        produces: the contract (`skills.specs`) and files it leaves in the run directory.
        does: what it does, one line for the plan (`{family}`: what the Model agent trains).
        detail: what its tool does, in full: the tool's description for an LLM and the line
            under "Your tools" in its owner's prompt.
    """

    name: str
    owner: str
    tool: str
    requires: tuple[str, ...]
    produces: str
    does: str
    detail: str


HUB = "task_agent"  # owns the first and the last step, and hands the others over

PIPELINE: tuple[Step, ...] = (
    Step(
        name="parse",
        owner=HUB,
        tool="parse_request",
        requires=(),
        produces="TaskSpec (spec.json): the decision, its reasons and questions, the estimate and the plan",
        does="read the request against the data; judge ethics and feasibility",
        detail="parses the request against the data into a TaskSpec (task type, label and text "
        'columns, requirements such as "accuracy >= 0.9" or "params < 10000000") and a decision: '
        "accept, ask, refuse or infeasible.",
    ),
    Step(
        name="data",
        owner="data_agent",
        tool="prepare_data",
        requires=("parse",),
        produces="DataReport (data/train.csv, data/test.csv, data_card.md, data_report.html)",
        does="load, check and clean the data, hold out a test set, write data_card.md",
        detail="loads the data, checks the label and text columns, cleans it (empty rows, "
        "duplicates, train/test leakage), holds out a test set when the person gave none, profiles "
        "it (types, imbalance, missing values, near duplicates, outliers, id-like and label-leaking "
        "columns), checks there are enough labelled rows per class for the targets, finds likely "
        "mislabelled rows by confident learning (relabelled only when that wins a trial on the "
        "person's own labels and the person approves; the training file keeps their labels), draws "
        "plots, writes data_card.md and data_report.html, and returns the DataReport as JSON.",
    ),
    Step(
        name="train",
        owner="model_agent",
        tool="train_model",
        requires=("data",),
        produces="TrainResult (models/, model_card.md)",
        does="{family} within the constraints, evaluate it, write model_card.md",
        detail="runs one experiment: tries the given model families (default: the plan's) within the "
        "budget and the parameter limit, tunes them, trains the best on the prepared training data, "
        "evaluates it on the held-out data, writes model_card.md, and returns the TrainResult as "
        "JSON. A later call is another experiment, kept only when it validates better.",
    ),
    Step(
        name="export",
        owner="server_agent",
        tool="export_model",
        requires=("train",),
        produces="ExportResult (exports/model.onnx)",
        does="export to ONNX, check parity with the trained model, measure latency",
        detail="writes exports/model.onnx, checks parity with the original model on the test set, "
        "measures latency at batch 1 and at a larger batch, tries an int8 copy (under a size, memory "
        "or latency limit, or when asked; served only when it measures better on what the limit asks) "
        "and (on an NVIDIA GPU) a TensorRT engine, and returns the ExportResult as JSON.",
    ),
    Step(
        name="serve",
        owner="server_agent",
        tool="deploy_service",
        requires=("export",),
        produces="Deployment (service/: API.md, openapi.json, Dockerfile, k8s.yaml)",
        does="start the web service, smoke-test it, measure throughput and memory",
        detail="starts the service on 127.0.0.1 (POST /predict, GET /health, GET /ready, GET "
        "/metrics, /docs) after the person approves, smoke-tests it, measures one replica's "
        "capacity and memory, estimates the replicas needed for the requested QPS within the "
        "container memory, load-tests the service at the target rate, writes service/API.md, "
        "openapi.json, a Dockerfile and Kubernetes manifests, and returns the Deployment as JSON "
        '(or {"skipped": why} when it was not approved).',
    ),
    Step(
        name="report",
        owner=HUB,
        tool="write_report",
        requires=("serve",),
        produces="report.md, report.json, metrics.json",
        does="check every requirement against what was measured, write report.md",
        detail="checks every requirement against what was measured and writes report.md and report.json.",
    ),
)
# What a request that is not accepted still runs: read it, and report why.
STOP_STEPS = ("parse", "report")

_BY_NAME = {step.name: step for step in PIPELINE}
_BY_TOOL = {step.tool: step for step in PIPELINE}
NAMES = tuple(_BY_NAME)
AGENTS = tuple(dict.fromkeys(step.owner for step in PIPELINE))  # in the order they first act
SPECIALISTS = tuple(agent for agent in AGENTS if agent != HUB)


def step(name: str) -> Step:
    return _BY_NAME[name]


def owner(name: str) -> str:
    return _BY_NAME[name].owner


def tool_for(name: str) -> str:
    return _BY_NAME[name].tool


def step_for_tool(tool: str) -> str | None:
    """The step a tool performs, or None for a name that is no step's tool."""
    found = _BY_TOOL.get(tool)
    return found.name if found else None


def specialist_steps(agent: str) -> tuple[str, ...]:
    """The steps `agent` owns, in pipeline order (empty for an agent that owns none)."""
    return tuple(s.name for s in PIPELINE if s.owner == agent)


def tools_of(agent: str) -> tuple[str, ...]:
    """The tools `agent` may call, in pipeline order."""
    return tuple(s.tool for s in PIPELINE if s.owner == agent)


def missing(name: str, done: Container[str], accepted: bool = True) -> tuple[str, ...]:
    """The unfinished steps `name` needs, directly or through another, in pipeline order.

    `accepted=False` (the request was not accepted): only the stop steps count as prerequisites.
    """
    needed: set[str] = set()
    todo = list(_BY_NAME[name].requires)
    while todo:
        nxt = todo.pop()
        if nxt not in needed:
            needed.add(nxt)
            todo.extend(_BY_NAME[nxt].requires)
    if not accepted:
        needed &= set(STOP_STEPS)
    return tuple(n for n in NAMES if n in needed and n not in done)


def ready(name: str, done: Container[str], accepted: bool = True) -> bool:
    """Whether every step `name` needs has finished."""
    return not missing(name, done, accepted)


def refusal(tool: str, done: Container[str], decision: str | None = None) -> str | None:
    """One sentence saying why `tool` cannot run now, or None when it may.

    Args:
        tool: the tool's name.
        done: the steps that have finished.
        decision: the TaskSpec's decision once the request was read ("accept", "ask", ...).
    """
    name = step_for_tool(tool)
    if name is None or name in done:
        return None
    accepted = decision in (None, "accept")
    if not accepted and name not in STOP_STEPS:
        return f"{tool} cannot run: the request was not accepted (decision: {decision})"
    gaps = missing(name, done, accepted)
    if gaps:
        return f"{tool} cannot run before {tool_for(gaps[0])} has finished"
    return None


def next_step(done: Container[str]) -> Step | None:
    """The first step, in pipeline order, that has not finished."""
    return next((s for s in PIPELINE if s.name not in done), None)


def from_step(name: str) -> tuple[str, ...]:
    """`name` and every step that needs it (directly or through another), in pipeline order: what
    must run again when `name`'s result changes."""
    return tuple(n for n in NAMES if n == name or name in missing(n, ()))
