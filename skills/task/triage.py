"""The Task agent's judgement of a parsed request: accept, ask, refuse or infeasible, with reasons.

Checks run in this order, before any other agent acts; the first kind that applies decides:

1. ethics (`skills.task.ethics.judge_ethics`, configs/policy.yaml) -> refuse, naming the category and
   what would be acceptable instead;
2. feasibility (`skills.task.feasibility`): an unpredictable target, a task type this version cannot
   train, or requirements no model in the catalog can meet -> infeasible, with counter-proposals;
3. missing input: no data (ask for it, or infeasible when there is none to get), a vague request
   (ask for the label and the metric), too few labels for the targets (ask for N more) -> ask;
4. otherwise accept, with an estimate of time, compute and LLM cost.

Every decision carries the plan (`skills.task.plan`): which agent does what, in which order, within
which budget; the run keeps it in state.json with the TaskSpec.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trainer_agent.skills.model.train import FAMILIES
from trainer_agent.skills.specs import TaskSpec, TaskType
from trainer_agent.skills.task import feasibility
from trainer_agent.skills.task.ethics import (
    EthicsJudge,
    EthicsPolicy,
    EthicsVerdict,
    judge_ethics,
    load_policy,
    offline_guard,
)
from trainer_agent.skills.task.ethics_meaning import MeaningJudge, default_judges
from trainer_agent.skills.task.plan import estimate, make_plan
from trainer_agent.skills.task.reading import english_view

if TYPE_CHECKING:
    import pandas as pd

    from trainer_agent.skills.task.ethics import EthicsJudge, EthicsPolicy


def trainable_tasks() -> tuple[TaskType, ...]:
    """The task types the Model agent has a model family for."""

    return tuple(FAMILIES)


def _unread(spec: TaskSpec) -> feasibility.Finding:
    """Ask about what looks like a requirement but was not read: a target is never dropped silently."""
    quotes = "; ".join(f"'{u.text}' ({u.why})" for u in spec.unclear)
    questions = [
        u.question or f"What target do you mean by '{u.text}'? Write it as, for example, 'accuracy >= 0.9'."
        for u in spec.unclear
    ]
    return feasibility.Finding(
        "ask", f"I could not read part of the request as a requirement: {quotes}.", questions
    )


def judge_request(
    request: str, english: str | None, policy: EthicsPolicy, judges: Sequence[EthicsJudge]
) -> EthicsVerdict:
    """`judge_ethics` on the request, and, when nothing refused it, on its English reading
    (`skills.task.reading.english_view`, None for a request in English) by the offline judges (the
    LLM judge read the original already); a refusal on the English reading quotes it."""
    verdict = judge_ethics(request, policy=policy, judges=judges)
    if verdict.allowed and english:
        offline = [j for j in judges if j is offline_guard or isinstance(j, MeaningJudge)]
        if not (read := judge_ethics(english, policy=policy, judges=offline)).allowed:
            read.reasons.append(f'I read the request in English as: "{english}".')
            return read
    return verdict


def triage(
    spec: TaskSpec,
    df: pd.DataFrame | None,
    *,
    label_given: bool = False,
    test_df: pd.DataFrame | None = None,
    policy: EthicsPolicy | None = None,
    judges: Sequence[EthicsJudge] | None = None,
    budget_min: float | None = None,
    max_trials: int | None = None,
    max_epochs: int | None = None,
) -> TaskSpec:
    """Set `decision`, `reasons`, `questions`, `proposal`, `estimate` and `plan` on a copy of `spec`.

    Args:
        spec: the parse of the request (`skills.task.requirements.parse_request`).
        df: the training data, or None when none was given.
        label_given: the person named the label column (--label), so the request need not.
        test_df: the separate test file, when one was given: targets are measured on it.
        policy, judges: the ethics policy and judges (default: configs/policy.yaml, offline guard).
    """

    spec = spec.model_copy(deep=True)
    policy = policy or load_policy()
    english = english_view(spec.request)  # a request in another language, read into English
    verdict = judge_request(spec.request, english, policy, judges or default_judges(policy))
    spec.ethics_judges = verdict.judge
    if not verdict.allowed:
        spec.decision = "refuse"
        spec.refusal_category = verdict.category
        spec.reasons.extend(verdict.reasons)
        spec.plan = make_plan(spec)
        return spec

    findings: list[feasibility.Finding] = []
    for request in (spec.request, english):  # the English reading only when the request gave none
        if request and not findings:
            for found in (
                feasibility.unpredictable(request),
                feasibility.impossible_by_nature(request, spec.requirements),
                feasibility.task_kind_not_trained(request, trainable_tasks()),
            ):
                if found is not None:
                    findings.append(found)
    if spec.task_type not in trainable_tasks():
        findings.append(
            feasibility.Finding(
                "infeasible",
                f"This version trains {', '.join(t.value.replace('_', ' ') for t in trainable_tasks())}; "
                f"{spec.task_type.value.replace('_', ' ')} is not available yet.",
            )
        )
    findings.extend(feasibility.contradictions(spec.requirements))
    if not findings:
        if df is None:
            findings.append(feasibility.no_data(spec.request, spec.task_type))
        if found := feasibility.vague(spec.request, spec, df, label_given):
            findings.append(found)
        if (
            df is not None
            and not findings
            and (found := feasibility.label_shortfall(spec, df, test_df, label_given))
        ):
            findings.append(found)

    if spec.unclear:
        findings.append(_unread(spec))
    if findings:
        infeasible = [f for f in findings if f.decision == "infeasible"]
        chosen = infeasible or findings
        spec.decision = "infeasible" if infeasible else "ask"
        for f in chosen:
            spec.reasons.append(f.reason)
            spec.questions.extend(q for q in f.questions if q not in spec.questions)
            spec.proposal.extend(f.proposal)
        spec.plan = make_plan(spec)
        return spec

    assert df is not None  # no data always finds something above
    n_classes = 1
    if spec.task_type != TaskType.TABULAR_REGRESSION and spec.label_column in df.columns:
        n_classes = int(df[spec.label_column].nunique())
    n_test = len(test_df) if test_df is not None else None
    spec.estimate = estimate(
        spec,
        n_rows=len(df),
        n_features=len(spec.feature_columns),
        n_classes=n_classes,
        n_test=n_test,
        budget_min=budget_min,
        max_trials=max_trials,
        max_epochs=max_epochs,
    )
    spec.plan = make_plan(spec, spec.estimate)
    return spec
