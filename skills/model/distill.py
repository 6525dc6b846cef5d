"""The hierarchical mode (TrainerAgent): when the small model misses its target, train a larger
teacher, let it label an unlabelled pool (soft pseudo-labels) and the labelled rows (out-of-fold
soft labels), and fit the small student on those; keep the student only when cross-validation on
the person's labels shows a gain: paired folds, and a 95% interval of the gain above zero (the
Nadeau-Bengio corrected t interval, since the folds' training rows overlap).

The student stays a TF-IDF + logistic regression model (same size, exact ONNX export); soft labels
are fitted exactly by giving each row one copy per class weighted by the teacher's probability
(weighted cross-entropy on copies = cross-entropy against the soft targets).

    outcome = distil_text(x, y, pool, student_pipe, seed=0)
    outcome.report["validation"]   # {"before": 0.78, "after": 0.81, "interval": [0.01, 0.05], ...}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trainer_agent.skills.model.text_features import Counts
from trainer_agent.skills.paired_gain import METHOD, corrected_interval, interval_text

HARD_WEIGHT = 0.5  # labelled rows: this share of the true label, the rest the teacher's view
MIN_WEIGHT = 0.02  # soft copies below this weight are dropped (they change nothing)
FOLDS = 5  # cross-validation folds for the keep-or-not decision


@dataclass
class Outcome:
    student: Any = None  # the distilled student fitted on all rows, or None when it did not help
    before: Any = None
    report: dict[str, Any] = field(default_factory=dict)


def text_teacher(seed: int = 0) -> Any:
    """A larger text model: word 1-2 grams and character 2-5 grams, sublinear TF-IDF, logistic
    regression. Not exportable with exact parity (char n-grams), which a teacher need not be."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=100_000),
        TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, max_features=100_000
        ),
    )
    return make_pipeline(
        features, LogisticRegression(C=8.0, max_iter=2000, solver="liblinear", random_state=seed)
    )


def _teacher_params(teacher: Any) -> int:
    import numpy as np

    clf = teacher.steps[-1][1]
    if hasattr(clf, "coef_"):
        return int(np.size(clf.coef_) * 2 + np.size(clf.intercept_))  # idf + weight per feature
    return 0


def _soft_fit(student: Any, x: Any, targets: Any, classes: list[str]) -> Any:
    """Fit `student` (a pipeline ending in a classifier that takes sample weights) on soft targets."""
    import numpy as np

    xs, ys, ws = [], [], []
    for j, c in enumerate(classes):
        keep = targets[:, j] >= MIN_WEIGHT
        xs.append(np.asarray(x, dtype=object)[keep])
        ys.append(np.full(int(keep.sum()), c, dtype=object))
        ws.append(targets[keep, j])
    last = student.steps[-1][0]
    return student.fit(
        np.concatenate(xs), np.concatenate(ys), **{f"{last}__sample_weight": np.concatenate(ws)}
    )


def _score(model: Any, x: Any, y: Any, scoring: str) -> float:
    from sklearn.metrics import accuracy_score, f1_score

    pred = model.predict(x)
    return float(f1_score(y, pred, average="macro") if scoring == "f1_macro" else accuracy_score(y, pred))


def distil_text(
    x: Any,
    y: Any,
    pool: Any,
    student: Any,
    seed: int = 0,
    scoring: str = "accuracy",
    model_dir: Any = None,
    say: Callable[[str], None] = print,
    budget_s: float | None = None,
    teacher_factory: Callable[[int], Any] | None = None,
    given: Any = None,
    teacher_name: str = "tfidf-word-char-logistic-regression",
    teacher_params: int | None = None,
) -> Outcome:
    """Distil a teacher into `student` (a fitted TF-IDF + logistic regression pipeline) on `x`, `y`
    and the unlabelled texts `pool` (may be None). See the module docstring. The validation rows
    are scored on `given` (default `y`; the person's labels when `y` carries corrections).
    `teacher_factory` (seed -> unfitted pipeline on raw texts) replaces the default teacher, e.g.
    a pretrained sentence encoder (`skills.model.embed_text.teacher_factory`), named `teacher_name`
    with `teacher_params` parameters in the report."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.asarray(x, dtype=object)
    y = np.asarray([str(v) for v in y], dtype=object)
    pool = np.asarray(pool if pool is not None else [], dtype=object)
    classes = sorted(set(y))
    make_teacher = teacher_factory or text_teacher
    k = len(student.named_steps["tfidf"].vocabulary_)
    report: dict[str, Any] = {
        "student": {"family": "tfidf-logistic-regression", "vocabulary": k},
        "pool_rows": len(pool),
    }
    if model_dir is not None and teacher_factory is None:
        report["teacher_note"] = (
            "a local transformers model was given; the TF-IDF word+char teacher is used for "
            "distillation here (trainer_agent.skills.model.hf_text trains transformers teachers separately)"
        )

    def fit_pair(x_lab: Any, y_lab: Any) -> tuple[Any, Any, Any]:
        """(teacher, distilled student, plain student) fitted on labelled rows + the pool."""
        teacher = make_teacher(seed).fit(x_lab, y_lab)
        cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        oof = cross_val_predict(make_teacher(seed), x_lab, y_lab, cv=cv, method="predict_proba")
        hard = np.eye(len(classes))[[classes.index(v) for v in y_lab]]
        targets = [HARD_WEIGHT * hard + (1 - HARD_WEIGHT) * oof]
        texts = [x_lab]
        if len(pool):
            targets.append(teacher.predict_proba(pool))
            texts.append(pool)
        all_x = np.concatenate(texts)
        vocab = Counts(all_x).vocabulary(k)  # the pool widens the vocabulary the student picks from
        plain = clone(student).fit(x_lab, y_lab)
        distilled = clone(student).set_params(tfidf__vocabulary=vocab)
        return teacher, _soft_fit(distilled, all_x, np.concatenate(targets), classes), plain

    given = y if given is None else np.asarray([str(v) for v in given], dtype=object)
    say(
        f"teacher-student: {len(x):,} labelled rows, pseudo-labelling {len(pool):,} pool rows; "
        "the gain is measured by cross-validation on your labels"
    )
    gain = paired_gain(x, y, given, fit_pair, scoring, seed)
    report["teacher"] = {
        "family": teacher_name,
        "params": _teacher_params(gain.teacher)
        if teacher_params is None
        else teacher_params + _teacher_params(gain.teacher),
        "validation": round(gain.teacher_score, 4),
    }
    report["validation"] = gain.as_dict()
    say(
        f"teacher-student ({scoring}, {gain.folds}-fold): teacher {gain.teacher_score:.4f}, "
        f"student {gain.before:.4f} -> {gain.after:.4f}, gain {gain.interval_text()}"
    )
    out = Outcome(before=student, report=report)
    if gain.low > 0:
        _, final, _ = fit_pair(x, y)
        out.student = final
        report["kept"] = True
        report["summary"] = (
            f"Hierarchical mode: a teacher ({report['teacher']['family']}, "
            f"{report['teacher']['params']:,} parameters) labelled {len(pool):,} pool rows and the "
            f"training rows; the student's {scoring} went from {gain.before:.4f} to {gain.after:.4f} "
            f"({gain.folds}-fold cross-validation on your labels, gain {gain.interval_text()}), so the "
            "distilled student is kept."
        )
    else:
        report["kept"] = False
        verdict = "lower" if gain.high <= 0 else "not distinguishable from no gain"
        report["summary"] = (
            f"Hierarchical mode tried: with a teacher and {len(pool):,} pool rows the student's "
            f"{scoring} was {gain.after:.4f} against {gain.before:.4f} without "
            f"({gain.folds}-fold cross-validation on your labels, gain {gain.interval_text()}: {verdict}), "
            "so the plain student is kept."
        )
    return out


@dataclass
class Gain:
    """The paired cross-validated gain of the distilled student over the plain one."""

    folds: int
    rows: int
    metric: str
    before: float
    after: float
    low: float
    high: float
    teacher_score: float
    teacher: Any = None  # the last fold's fitted teacher (its size is reported)

    @property
    def mean(self) -> float:
        return self.after - self.before

    def interval_text(self) -> str:

        return interval_text(self.mean, self.low, self.high)

    def as_dict(self) -> dict[str, Any]:
        return {
            "before": round(self.before, 4),
            "after": round(self.after, 4),
            "gain": round(self.mean, 4),
            "interval": [round(self.low, 4), round(self.high, 4)],
            "metric": self.metric,
            "rows": self.rows,
            "folds": self.folds,
            "method": f"{self.folds}-fold stratified, on the person's labels; {METHOD}",
        }


def paired_gain(
    x: Any, y: Any, given: Any, fit_pair: Callable[[Any, Any], tuple[Any, Any, Any]], scoring: str, seed: int
) -> Gain:
    """Fit (teacher, distilled, plain) on each fold's training rows (labels `y`) and score both
    students on the fold's held-out rows against the person's labels `given`."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    smallest = int(min(np.unique(given, return_counts=True)[1]))
    k = max(2, min(FOLDS, smallest))
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    before, after, teacher_scores = [], [], []
    teacher = None
    for fit_rows, val_rows in folds.split(x, given):
        teacher, distilled, plain = fit_pair(x[fit_rows], y[fit_rows])
        x_val, y_val = x[val_rows], given[val_rows]
        before.append(_score(plain, x_val, y_val, scoring))
        after.append(_score(distilled, x_val, y_val, scoring))
        teacher_scores.append(_score(teacher, x_val, y_val, scoring))
    mean, low, high = corrected_interval(np.array(after) - np.array(before))
    return Gain(
        folds=k,
        rows=len(y),
        metric=scoring,
        before=float(np.mean(before)),
        after=float(np.mean(after)),
        low=low,
        high=high,
        teacher_score=float(np.mean(teacher_scores)),
        teacher=teacher,
    )
