"""Tables: try the catalog's families (linear, random forest, gradient boosting; MLP inside a
budget) by cross-validation, each shrunk until it meets the parameter and size limits, and keep
the best (the smallest among near-ties). Called by `skills.model.train.train_model`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer_agent.skills.model import ensemble
from trainer_agent.skills.model.cross_val import cross_val_outputs
from trainer_agent.skills.model.model_catalog import Candidate, to_try
from trainer_agent.skills.model.model_files import save_joblib
from trainer_agent.skills.model.model_size import (
    count_params,
    onnx_or_saved_size,
    tree_ensemble_params,
    upper_limit,
)
from trainer_agent.skills.model.search_budget import DEFAULT_MAX_TRIALS, SearchBudget
from trainer_agent.skills.model.search_defaults import DEFAULT_SELECT_S, primary_metric
from trainer_agent.skills.model.select_model import Scored, budget_cuts, select
from trainer_agent.skills.model.tabular_pipelines import pipeline, start_hyper
from trainer_agent.skills.model.trained import Trained
from trainer_agent.skills.model.tune import tune
from trainer_agent.skills.model.warm_start import warmed
from trainer_agent.skills.specs import TaskSpec, TaskType

FOLDS = 3
TUNE_SHARE = 0.5  # of the search budget, for tuning LightGBM with Optuna (until it converges)


class TabularSearch:
    def __init__(
        self,
        spec: TaskSpec,
        task: TaskType,
        x: Any,
        y: Any,
        info: dict,
        out: Path,
        seed: int,
        say,
        given=None,
    ):
        self.spec, self.task, self.x, self.y, self.info, self.seed, self.say = (
            spec,
            task,
            x,
            y,
            info,
            seed,
            say,
        )
        self.path = out / "models" / "model.joblib"
        # what every score is computed on: the person's labels (`y` may carry approved corrections)
        self.given = y if given is None else given
        self.score_rows: Any = None  # the person's rows, scored; None: every row (no catalog rows)
        self.metric, self.scoring = primary_metric(task, spec.requirements)
        self.param_limit = upper_limit(spec.requirements, "params")
        self.size_limit = upper_limit(spec.requirements, "size_bytes")
        self.notes: list[str] = []
        self.outputs: dict[str, Any] = {}  # out-of-fold outputs per family (skills.model.ensemble)
        self.classes = sorted(set(y)) if task == TaskType.TABULAR_CLASSIFICATION else None
        self.tune_s: float | None = None  # LightGBM's share of a time budget for Optuna
        self.tune_trials: int | None = None  # under a count budget: trials instead of seconds
        self.tuning: dict[str, Any] = {}

    def fit_within_limits(
        self, family: str, start: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Fit (from `start`, default the family's defaults), then shrink tree ensembles (fewer
        trees, then shallower) until the limits hold."""
        start = dict(start or start_hyper(family))
        hyper = dict(start)
        pipe = None
        for _ in range(8):
            pipe = pipeline(self.task, self.info["inputs"], family, hyper, self.seed).fit(self.x, self.y)
            if "n_estimators" not in hyper:
                break
            params = count_params(pipe)
            largest = 0
            if self.size_limit is not None:
                largest = onnx_or_saved_size(pipe, save_joblib(pipe, self.path), self.info)
            tree_params = tree_ensemble_params(pipe.named_steps["model"])
            fixed = params - tree_params
            ratios = []
            if self.param_limit is not None and params > self.param_limit:
                ratios.append((self.param_limit - fixed) / max(tree_params, 1))
            if self.size_limit is not None and largest > self.size_limit:
                ratios.append(self.size_limit / largest * 0.9)
            if not ratios:
                break
            n_est, depth = hyper["n_estimators"], hyper.get("max_depth")
            new_n = int(n_est * min(ratios))
            if 1 <= new_n < n_est:
                hyper["n_estimators"] = new_n
            elif depth is None:
                hyper["max_depth"] = 6
            elif depth > 1:
                hyper["max_depth"] = depth - 1
            elif n_est > 1:
                hyper["n_estimators"] = 1
            else:
                self.notes.append(
                    f"Even a single depth-1 tree of {family} breaks the size or parameter limit."
                )
                break
        if hyper != start:
            self.notes.append(
                f"{family} shrunk to {hyper['n_estimators']} trees of depth {hyper.get('max_depth')} (from "
                f"{start['n_estimators']} of depth {start.get('max_depth') or 'unlimited'}) to meet the "
                "parameter/size limit."
            )
        return pipe, hyper

    def __call__(self, cand: Candidate) -> Scored:
        import numpy as np
        from sklearn.model_selection import KFold, StratifiedKFold

        classify = self.task == TaskType.TABULAR_CLASSIFICATION
        counts = np.unique(self.y, return_counts=True)[1] if classify else [len(self.y)]
        folds = min(FOLDS, int(min(counts)))
        splitter = (StratifiedKFold if classify else KFold)(
            n_splits=max(2, folds), shuffle=True, random_state=self.seed
        )
        start = None
        if (self.tune_s or self.tune_trials) and folds >= 2 and cand.name.startswith("lightgbm"):
            start = self.tune_lightgbm(cand.name, splitter)
        pipe, hyper = self.fit_within_limits(cand.name, start)
        if folds >= 2:
            template = pipeline(self.task, self.info["inputs"], cand.name, hyper, self.seed)
            # cross_val_score's folds and score, keeping the out-of-fold outputs for an ensemble
            fold_scores, self.outputs[cand.name] = cross_val_outputs(
                template, self.x, self.y, splitter, self.scoring, self.classes, self.given, self.score_rows
            )
            score = float(np.mean(fold_scores))
        else:  # too few rows of a class to cross-validate: the training score, marked as such
            score, hyper = (
                float(pipe.score(self.x, self.given)),
                {**hyper, "score": "training (no CV possible)"},
            )
        self.say(f"{cand.name}: {self.scoring} {score:.4f} (cv), {count_params(pipe):,} parameters")
        return Scored(score=score, params=count_params(pipe), detail=dict(hyper), payload=pipe)

    def tune_lightgbm(self, family: str, splitter: Any) -> dict[str, Any]:
        """Optuna over LightGBM's main knobs within `self.tune_s`, its defaults as the first trial,
        each trial scored by the same cross-validation on the person's labels; the best settings."""
        import numpy as np

        start = start_hyper(family)
        defaults = {"n_estimators": start["n_estimators"], "learning_rate": 0.1, "num_leaves": 31}
        defaults["min_child_samples"] = 20

        def objective(trial: Any) -> float:
            hyper = {
                **start,
                "n_estimators": trial.suggest_int("n_estimators", 50, 500, log=True),
                "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
                "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
                "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            }
            template = pipeline(self.task, self.info["inputs"], family, hyper, self.seed)
            scores, _ = cross_val_outputs(
                template, self.x, self.y, splitter, self.scoring, self.classes, self.given, self.score_rows
            )
            return float(np.mean(scores))

        result = tune(
            objective,
            self.tune_s,
            self.path.parent,
            self.seed,
            n_trials=self.tune_trials,
            enqueue=[defaults],
            name=f"tuning-{family}",
        )
        self.tuning[family] = {k: v for k, v in result.items() if k != "trials"} | {
            "trials": result["trials"][:50]
        }
        first = result["trials"][0]["value"] if result["trials"] else None
        if result["best_value"] is not None:
            within = f"{self.tune_trials} trials" if self.tune_s is None else f"{self.tune_s:.0f} s"
            ended = {"converged": "converged", "time": "time up", "trials": "trial count reached"}
            self.notes.append(
                f"{family} tuned by Optuna within {within} ({ended[result['stopped']]}): "
                f"{result['n_complete']} of {result['n_trials']} trials, cross-validated {self.scoring} "
                f"{result['best_value']:.4f}"
                + (f" (its defaults {first:.4f})." if first is not None else ".")
            )
        return {**start, **(result["best_params"] or defaults)}


def train(
    spec,
    task,
    x,
    y,
    out: Path,
    info,
    seed,
    budget_s,
    families,
    pool,
    distill,
    say,
    warm=None,
    given=None,
    budget: SearchBudget | None = None,
    score_rows=None,
) -> Trained:
    """Choose and fit a tabular model; `warm` (`skills.model.warm_start.WarmStart`) puts the closest
    registered model's families first (the defaults here have no grid for it to narrow). Models are
    fitted on `y`; every score is computed on `given` (the person's labels, default `y`), and on the
    `score_rows` (the person's rows; default every row) of the cross-validation.
    `budget_s` None: the default families; `budget` (default: `budget_s`, else DEFAULT_SELECT_S):
    what the search may spend, LightGBM tuning for up to TUNE_SHARE of it until it converges."""
    import numpy as np

    if budget is None:
        budget = SearchBudget.make(DEFAULT_SELECT_S, None if budget_s is None else budget_s / 60)
    search = TabularSearch(spec, task, x, y, info, out, seed, say, given)
    search.score_rows = score_rows
    if budget.counted:  # LightGBM is tried first and tunes for its trials, or half the time
        search.tune_trials = budget.trials or DEFAULT_MAX_TRIALS
    else:
        search.tune_s = TUNE_SHARE * budget.seconds
    # the registered family is tried even when it is not a default one
    cands = to_try(task, families, budget_s, also=lambda c: warmed(warm, c))
    classes = len(np.unique(y)) if task == TaskType.TABULAR_CLASSIFICATION else 1
    sizes = {"features": len(info["inputs"]), "classes": classes, "rows": len(y)}
    total = budget.select_s
    first = list(warm.families) if warm is not None else []
    sel = select(cands, spec.requirements, search, total, sizes=sizes, metric=search.metric, first=first)
    if cuts := budget_cuts(sel, total):
        search.notes.append(cuts)
    if warm is not None:
        search.notes.append(warm.note())
    if sel.best is None:
        smallest = min(cands, key=lambda c: c.estimate_params(**sizes))
        scored, name = search(smallest), smallest.name
        search.notes.append("Every candidate was over the parameter limit; the smallest was kept.")
    else:
        scored, name = sel.scored, sel.best.name  # type: ignore[assignment]
    assert scored is not None
    pipe, hyper, cv_score = scored.payload, dict(scored.detail), scored.score
    if sel.best is not None:
        outcome = ensemble.consider(
            sel,
            spec.requirements,
            lambda cand, _: search.outputs.get(cand.name),
            search.given,
            search.scoring,
            search.classes,
            budget_given=budget.given,
            say=say,
        )
        ensemble.record(sel, outcome, search.notes)
        if outcome.model is not None:
            name, pipe, cv_score = ensemble.NAME, outcome.model, float(outcome.score or 0.0)
            members = {c.name: s.detail for c, s in sel.results}
            hyper = {"voting": "soft", "members": {m: members[m] for m in outcome.members}}
    hyper["numeric_columns"] = [i["column"] for i in info["inputs"] if i["kind"] == "float"]
    hyper["categorical_columns"] = [i["column"] for i in info["inputs"] if i["kind"] == "string"]
    info["family"] = name
    chosen = next(c for c in sel.table if c["name"] == name) if sel.best else {}
    others = ", ".join(f"{c['name']} {c['score']}" for c in sel.table if "score" in c and c["name"] != name)
    search.notes.append(
        f"{name} chosen by {FOLDS}-fold cross-validated {search.scoring} "
        f"({chosen.get('score')}; {chosen.get('reason', '')})" + (f" against {others}." if others else ".")
    )
    if pool is not None:
        search.notes.append(
            "An unlabelled pool was given; the teacher-student step is implemented for text models only."
        )

    def refit(share: float) -> tuple[Any, int, float]:
        rng = np.random.default_rng(seed)
        n = max(10, int(len(y) * share))
        idx = rng.permutation(len(y))[:n]
        if name == "soft-voting-ensemble":
            from sklearn.base import clone

            m = clone(pipe).fit(x.iloc[idx], y[idx])
        else:
            m = pipeline(task, info["inputs"], name, scored.detail, seed).fit(x.iloc[idx], y[idx])
        return m, n, float(m.score(x.iloc[idx], np.asarray(search.given)[idx]))

    return Trained(
        family=name,
        framework="sklearn",
        model=pipe,
        params=count_params(pipe),
        hyper=hyper,
        notes=search.notes,
        candidates=sel.table,
        cv_score={search.metric: cv_score},
        tuning=search.tuning | ({"warm_start": warm.summary()} if warm is not None else {}),
        seed=seed,
        refit=refit,
        train_data=(x, y),
    )
