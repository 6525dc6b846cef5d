"""Typed contracts passed between agents, written to the run directory and read by tests.

Every specialist's last message in its turn carries one of these as JSON; `RunReport` is
`report.json`. Keep this module free of heavy imports: the CLI imports it for `--help`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field


class TaskType(str, Enum):
    TEXT_CLASSIFICATION = "text_classification"
    TABULAR_CLASSIFICATION = "tabular_classification"
    TABULAR_REGRESSION = "tabular_regression"
    IMAGE_CLASSIFICATION = "image_classification"


Op = Literal[">=", ">", "<=", "<"]
Decision = Literal["accept", "ask", "refuse", "infeasible"]

# Names a requirement may carry. Metrics are measured on held-out data; constraints on the
# model or its service. Fractions are stored as fractions (90% -> 0.9).
METRIC_NAMES = ("accuracy", "f1", "precision", "recall", "roc_auc", "mae", "rmse", "r2")
CONSTRAINT_NAMES = (
    "params",
    "size_bytes",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "qps",
    "memory_mb",
)
# The constraints a compressed (int8) copy of the model can help with, and the axis each is judged
# on (skills.export.variant): an upper bound on one of them is what makes int8 worth trying.
COMPRESSION_AXES = {
    "size_bytes": "size",
    "memory_mb": "memory",
    "latency_p50_ms": "latency",
    "latency_p95_ms": "latency",
    "latency_p99_ms": "latency",
}


class Requirement(BaseModel):
    """One measurable requirement, e.g. accuracy >= 0.9 or params < 10_000_000."""

    name: str = Field(description="one of METRIC_NAMES or CONSTRAINT_NAMES")
    op: Op
    target: float
    label: str | None = Field(default=None, description="class for per-class precision/recall")
    text: str = Field(default="", description="the phrase of the request it came from")
    assumed: bool = Field(
        default=False, description="adopted from a vague word ('real-time'), not stated (task.assumed_limits)"
    )

    @property
    def kind(self) -> Literal["metric", "constraint"]:
        return "metric" if self.name in METRIC_NAMES else "constraint"

    @property
    def key(self) -> str:
        """Name with its class, e.g. 'recall[other]', as used in metrics dicts."""
        return f"{self.name}[{self.label}]" if self.label else self.name

    def is_met(self, value: float) -> bool:
        return {
            ">=": value >= self.target,
            ">": value > self.target,
            "<=": value <= self.target,
            "<": value < self.target,
        }[self.op]


class Unclear(BaseModel):
    """A part of the request that looks like a requirement but was not read into one: the Task agent
    asks about it rather than dropping it or guessing."""

    text: str = Field(description="the person's words")
    why: str = ""
    question: str = ""


class TaskSpec(BaseModel):
    """The Task agent's parse of the request against the data."""

    request: str
    task_type: TaskType
    label_column: str | None = None
    text_column: str | None = None
    feature_columns: list[str] = Field(default_factory=list)
    requirements: list[Requirement] = Field(default_factory=list)
    decision: Decision = "accept"
    reasons: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    refusal_category: str | None = Field(default=None, description="ethics policy category of a refusal")
    ethics_judges: str = Field(
        default="", description="the ethics judges asked ('+'), or the one that refused"
    )
    ethics_notes: list[str] = Field(default_factory=list, description="judges left out, and why")
    proposal: list[Requirement] = Field(
        default_factory=list, description="relaxed requirements the Task agent proposes instead"
    )
    estimate: dict[str, Any] = Field(default_factory=dict, description="time, compute and LLM cost")
    plan: list[dict[str, Any]] = Field(default_factory=list, description="steps: agent, tool, budget")
    unclear: list[Unclear] = Field(
        default_factory=list, description="parts that look like requirements but could not be read"
    )
    readings: list[str] = Field(
        default_factory=list, description="how the person's words were read, e.g. a class named by a phrase"
    )


class LabelIssue(BaseModel):
    """A training row whose label looks wrong: out-of-fold predictions disagree with confidence."""

    row: int = Field(description="0-based row of the prepared training file (data/train.csv)")
    given: str
    suggested: str
    confidence: float = Field(description="out-of-fold probability of the suggested label")
    preview: str = ""


class LabelFixTrial(BaseModel):
    """Relabelling as an experiment: the probe's out-of-fold score on the person's own labels with
    and without the proposed corrections (`skills.data.label_fixes`), and what was decided."""

    proposed: int = Field(description="corrections proposed (confidence bar and per-class cap)")
    per_class: dict[str, int] = Field(default_factory=dict, description="proposed rows per given class")
    metric: str = "balanced accuracy"
    without: float = Field(description="out-of-fold score on the person's labels, labels as given")
    with_corrections: float = Field(description="the same, fitted with the corrections")
    gain: float = 0.0
    wins: float = Field(default=0.0, description="share of paired bootstrap resamples the corrections win")
    folds: int = 5
    passed: bool = False
    decision: str = ""
    reason: str = ""


class CatalogTrial(BaseModel):
    """Catalog data as an experiment: the probe's out-of-fold score on the person's own rows and
    labels, fitted without and with the catalog rows (`skills.data.catalog_data`), and what became
    of the proposal (asked, approved or refused, by whom, merged)."""

    name: str = Field(description="the catalog entry")
    path: str
    source: str = Field(default="", description="where the data came from ('' when not recorded)")
    licence: str = Field(default="", description="its licence ('' when not recorded)")
    rows: int = Field(description="rows usable for training after the checks below")
    excluded: dict[str, int] = Field(
        default_factory=dict, description="catalog rows left out, by reason (e.g. a copy of a test row)"
    )
    metric: str = "balanced accuracy"
    folds: int = 5
    without: float = Field(default=0.0, description="out-of-fold score on the person's rows, their data only")
    with_catalog: float = Field(default=0.0, description="the same, fitted with the catalog rows added")
    gain: float = 0.0
    wins: float = Field(default=0.0, description="share of paired bootstrap resamples the catalog rows win")
    passed: bool = False
    decision: str = Field(default="", description="merged, not approved, rejected by the check, ...")
    by: str = Field(default="", description="who or what approved or refused ('' when not asked)")
    reason: str = ""


class Sufficiency(BaseModel):
    """Whether there are enough labelled rows per class for the task, and how many more if not."""

    enough: bool
    per_class: dict[str, int] = Field(default_factory=dict)
    needed_per_class: dict[str, int] = Field(default_factory=dict, description="more rows needed")
    more_needed: int = 0
    reason: str = ""
    estimate: str = Field(default="", description="learning-curve estimate, when there was enough to fit one")


class DataReport(BaseModel):
    """The Data agent's findings and the data files the Model agent trains on."""

    train_path: str
    test_path: str
    test_from: Literal["user", "split"]
    n_train: int
    n_test: int
    columns: list[str]
    label_column: str
    text_column: str | None = None
    feature_columns: list[str] = Field(default_factory=list)
    label_counts: dict[str, int] = Field(default_factory=dict)
    dropped_rows: int = 0
    duplicate_rows: int = 0
    unlabelled_path: str | None = Field(
        default=None, description="rows without a label, inputs only (data/unlabelled.csv): a teacher's pool"
    )
    unlabelled_rows: int = 0
    missing_values: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    data_card: str = "data_card.md"
    findings: list[str] = Field(default_factory=list, description="what profiling and checks found")
    label_issues: list[LabelIssue] = Field(default_factory=list, description="likely mislabelled rows")
    labels_corrected: int = 0
    label_fix: LabelFixTrial | None = Field(
        default=None, description="the relabelling experiment, if one ran"
    )
    corrections_path: str | None = Field(
        default=None,
        description="applied label corrections (data/label_corrections.csv); the training file keeps "
        "the person's labels, the Model agent fits on the corrected ones and scores on the person's",
    )
    catalog: list[CatalogTrial] = Field(
        default_factory=list, description="catalog data proposed for training, tried on the person's labels"
    )
    catalog_rows: int = Field(
        default=0, description="training rows added from the catalog (listed in data/catalog_rows.csv)"
    )
    sufficiency: Sufficiency | None = None
    questions: list[str] = Field(default_factory=list, description="what the person must provide")
    plots: list[str] = Field(default_factory=list, description="PNG files, relative to the run directory")
    html_report: str | None = None


class TrainResult(BaseModel):
    """The Model agent's trained model and its held-out evaluation."""

    family: str
    params: int
    size_bytes: int
    model_path: str
    labels: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict)
    train_seconds: float = 0.0
    notes: list[str] = Field(default_factory=list)
    model_card: str = "model_card.md"
    source: str = Field(default="sklearn", description="sklearn, torch, pretrained-local or from-scratch")
    candidates: list[dict[str, Any]] = Field(default_factory=list, description="families tried and why kept")
    tuning: dict[str, Any] = Field(default_factory=dict, description="hyperparameter search and its budget")
    distillation: dict[str, Any] = Field(default_factory=dict, description="teacher-student before/after")
    compression: dict[str, Any] = Field(default_factory=dict, description="compressed variants, re-evaluated")
    calibration: dict[str, Any] = Field(default_factory=dict, description="expected calibration error")
    plots: list[str] = Field(default_factory=list, description="PNG files, relative to the run directory")
    reused_from: str | None = Field(default=None, description="registry id of a reused model")


class Parity(BaseModel):
    """How closely the exported model reproduces the in-memory one on the test set."""

    n: int
    label_agreement: float
    max_abs_diff: float | None = None
    onnx_metrics: dict[str, float] = Field(default_factory=dict)


class ExportResult(BaseModel):
    onnx_path: str
    size_bytes: int
    parity: Parity
    latency_ms: dict[str, float] = Field(default_factory=dict, description="p50/p95/p99, batch 1")
    benchmark: dict[str, Any] = Field(default_factory=dict, description="batch 1 and batch N, in process")
    quantization: dict[str, Any] = Field(
        default_factory=dict,
        description="int8 copy: status (off, skipped, rejected, kept, not kept), reason, and float vs int8 "
        "size, batch-1 latency, agreement and metrics",
    )
    tensorrt: dict[str, Any] = Field(default_factory=dict, description="engine status, or why none")
    served: Literal["float", "int8"] = Field(default="float", description="the variant the service serves")
    served_path: str = Field(default="", description="the ONNX file the service serves; empty: onnx_path")

    @property
    def served_file(self) -> str:
        """The ONNX file the service serves: the int8 copy when it was kept, else the float model."""
        return self.served_path or self.onnx_path


class Deployment(BaseModel):
    url: str
    docs_url: str
    metrics_url: str
    running: bool
    pid: int | None = None
    smoke: dict[str, Any] = Field(default_factory=dict)
    measured: dict[str, float] = Field(default_factory=dict)
    capacity: dict[str, Any] = Field(default_factory=dict, description="one replica under concurrency")
    estimate: dict[str, Any] = Field(
        default_factory=dict, description="replicas, resources (trainer_agent.skills.serve.sizing)"
    )
    load_test: dict[str, Any] = Field(default_factory=dict, description="open-loop test at the planned rate")
    artifacts: dict[str, str] = Field(default_factory=dict, description="API.md, openapi.json, k8s, Docker")


class ServerReport(BaseModel):
    """The Server agent's spec: what was exported and how the service did."""

    export: ExportResult
    deployment: Deployment | None = Field(default=None, description="None when no service was started")


class RequirementResult(BaseModel):
    name: str
    op: Op
    target: float
    achieved: float | None
    met: bool | None = Field(description="None when it could not be measured")
    note: str = ""


class ModelSummary(BaseModel):
    family: str
    params: int
    size_bytes: int


class RunReport(BaseModel):
    run_id: str
    run_dir: str
    decision: Decision
    task_type: TaskType | None = None
    brain: str
    sandbox: str = Field(default="", description="where training and export jobs ran, and why")
    request: str = ""
    reasons: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    requirements: list[RequirementResult] = Field(default_factory=list)
    model: ModelSummary | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    exports: dict[str, Any] = Field(default_factory=dict)
    service: dict[str, Any] | None = None
    durations: dict[str, float] = Field(default_factory=dict)
    test_data: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict, description="the Data agent's findings, in short")
    notes: list[str] = Field(default_factory=list)
    review: list[str] = Field(
        default_factory=list,
        description="the Task agent's review: experiments, remedies, and what an unmet target would need",
    )
    llm_usage: dict[str, Any] = Field(default_factory=dict, description="LLM calls, tokens, cost per agent")
    cross_check: dict[str, Any] = Field(
        default_factory=dict, description="the LLM's reading of the request vs the parser's"
    )
    reused: dict[str, Any] = Field(
        default_factory=dict,
        description="run --reuse, by step: reused (from which run, SHA-256 of inputs and files) or why not",
    )

    @property
    def all_met(self) -> bool:
        """True only when every requirement was measured and met: unmeasured is not met."""
        return all(r.met is True for r in self.requirements)
