"""What the Model agent's search may spend, declared once: the plan states it, the training obeys it.

Two kinds of budget:
- **time**: with `--budget-min`, seconds for choosing (every exportable family, the cheapest first)
  and tuning. Without it, seconds sized to the data: `DEFAULT_FACTOR` times the estimated time of
  the default search (the plan's rule of thumb), within `MIN_DEFAULT_S`..`MAX_DEFAULT_S`; every
  default family is then tried in full and the budget bounds tuning (tables: LightGBM's Optuna
  study, up to half of it). Met targets do not end the search; a tuning study ends early only when
  it has converged: no gain over its last `CONVERGE_AFTER` finished trials (`skills.model.tune`). When
  the clock cuts a search short, the report says what it cut.
- **counts** (`--max-trials`, `--max-epochs`): at most N tuning trials per study and N epochs per
  net, and no wall-clock cut anywhere, so the same request, data and `--seed` give the same model
  on an idle or a busy machine (only slower).

    budget = for_data(TaskType.TEXT_CLASSIFICATION, rows=4000, features=1, classes=2)
    budget.seconds, budget.source, budget.describe()   # 54.0, "sized", "Tuning budget 54 s ..."
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from trainer_agent.skills.specs import TaskType

CV_MAX_ROWS = 20_000  # text: tune by cross-validation only below this many training rows
CONVERGE_AFTER = 10  # a tuning study stops when its last N finished trials brought no gain
MIN_GAIN = 1e-4  # a smaller rise of the best score is no gain
DEFAULT_MAX_TRIALS = 50  # a study's trials under a count budget without --max-trials
DEFAULT_FACTOR = 3.0  # the default time budget: this many times the default search's estimate
MIN_DEFAULT_S, MAX_DEFAULT_S = 30.0, 600.0


def default_search_seconds(task: TaskType, rows: int, features: int, classes: int) -> float:
    """The default search's time on 2 cores, fitted to measurements (train_model wall time):
    text 4,000 rows 23.4 s, 800 rows 4.9 s; tables wine 8.6 s, breast_cancer 8.3 s, digits 46.9 s
    (gradient boosting 38.9 s of it), diabetes 4.7 s, before LightGBM joined the defaults: on digits
    it took 5.4 s to gradient boosting's 20.5 s in one run (0.26x), so about 10 s more at the rate
    above; images 1,437 digits 40-48 s."""
    cells = rows * max(1, features)
    if task == TaskType.TEXT_CLASSIFICATION:  # vocabulary x C grid by 3-fold CV, one fit above it
        return 0.0045 * rows if rows <= CV_MAX_ROWS else 0.001 * rows
    if task == TaskType.IMAGE_CLASSIFICATION:
        # pixel logistic regression by CV (9.8 s) + the small CNN with early stopping (30-39 s) on
        # 1,437 digits at 8x8: about 0.03 s an image; larger images cost more (not known here)
        return 2.0 + 0.03 * rows
    boosted = max(1, classes if classes > 2 else 1)  # multi-class boosting: a tree per class a stage
    forest, boosting, linear = 2.0 + 2e-5 * cells, 2.5 + 4e-5 * cells * boosted, 0.3 + 2e-6 * cells * boosted
    lightgbm = 0.4 + 1.05e-5 * cells * boosted  # 0.26x gradient boosting's time, measured side by side
    return forest + boosting + linear + lightgbm


# A pretrained sentence encoder (skills.model.embed_text, when the model library has one) embeds every
# training row once:
# all-MiniLM-L6-v2 at 128 pieces took 220 s for the 4,000 demo reviews on 2 shared cores (load
# average ~4; 620 s at ~8).
ENCODER_S_PER_ROW = 0.055


def encoder_fits(rows: int, budget: SearchBudget) -> bool:
    """Whether the default search tries a pretrained encoder: its one embedding pass fits the
    budget sized to the data (a person's --budget-min or counts always let it try)."""
    return budget.given or ENCODER_S_PER_ROW * rows <= budget.seconds


def default_seconds(task: TaskType, rows: int, features: int, classes: int) -> float:
    """The time budget for choosing and tuning when the person gave none, sized to the data."""
    estimate = default_search_seconds(task, rows, features, classes)
    return float(min(MAX_DEFAULT_S, max(MIN_DEFAULT_S, round(DEFAULT_FACTOR * estimate))))


def for_data(
    task: TaskType,
    rows: int,
    features: int,
    classes: int,
    budget_min: float | None = None,
    max_trials: int | None = None,
    max_epochs: int | None = None,
) -> SearchBudget:
    """The budget of a search on this data: counts when given, else --budget-min, else sized."""
    return SearchBudget.make(
        default_seconds(task, rows, features, classes), budget_min, max_trials, max_epochs
    )


@dataclass(frozen=True)
class SearchBudget:
    seconds: float  # wall clock for choosing and tuning; math.inf under a count budget
    source: str  # "given" (--budget-min), "sized" (to the data) or "counts"
    trials: int | None = None  # tuning trials per study at most (--max-trials)
    epochs: int | None = None  # epochs per net at most (--max-epochs)
    converge_after: int = CONVERGE_AFTER

    @classmethod
    def make(
        cls,
        default_s: float,
        budget_min: float | None = None,
        max_trials: int | None = None,
        max_epochs: int | None = None,
    ) -> SearchBudget:
        """`default_s`: the budget sized to the data (`default_seconds`). Counts, when given, replace
        the clock; `--budget-min` with counts is refused by the CLI (one or the other)."""
        if max_trials is not None or max_epochs is not None:
            return cls(math.inf, "counts", max_trials, max_epochs)
        if budget_min is not None:
            return cls(budget_min * 60.0, "given")
        return cls(float(default_s), "sized")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SearchBudget | None:
        if not d:
            return None
        return cls(**{**d, "seconds": math.inf if d.get("seconds") is None else float(d["seconds"])})

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (a count budget's infinite seconds become None)."""
        return asdict(self) | {"seconds": None if math.isinf(self.seconds) else self.seconds}

    @property
    def counted(self) -> bool:
        return self.source == "counts"

    @property
    def given(self) -> bool:
        """The person set it (--budget-min or counts): the wider search over every exportable family."""
        return self.source != "sized"

    @property
    def select_s(self) -> float:
        """What the family search may spend before it skips the families not yet tried: the
        person's budget; under the sized default every default family is tried in full (the
        budget bounds tuning), and under counts nothing is skipped."""
        return self.seconds if self.source == "given" else math.inf

    @property
    def time_limit_s(self) -> float | None:
        """What a net or a study may take by the clock; None under a count budget."""
        return None if self.counted else self.seconds

    def describe(self) -> str:
        """One sentence for the plan and the model card."""
        stop = f"a tuning study stops once its last {self.converge_after} trials bring no gain"
        if self.counted:
            parts = [f"at most {self.trials} tuning trials per study"] if self.trials is not None else []
            parts += [f"at most {self.epochs} epochs per net"] if self.epochs is not None else []
            return (
                f"Search budget by counts ({', '.join(parts)}), no wall-clock cut: the same --seed gives "
                f"the same model on any load; {stop}."
            )
        if self.source == "given":
            return (
                f"Search budget {self.seconds:.0f} s of wall clock, given (--budget-min, or the "
                f"experiment's budget_s); {stop}."
            )
        return (
            f"Tuning budget {self.seconds:.0f} s of wall clock, sized to the data (--budget-min sets a "
            f"search budget): every default family is tried in full; {stop}."
        )
