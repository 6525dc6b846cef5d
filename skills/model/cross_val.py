"""Cross-validation that keeps each row's out-of-fold output (probabilities or predictions), so
one set of fits gives both the fold scores and what an ensemble of the models would have output.
A helper of the searches and of `skills.model.ensemble`, not a model family.

    scores, outs = cross_val_outputs(pipe, x, y, StratifiedKFold(3), "accuracy", classes=["a", "b"])
    fold_score("accuracy", y, outs.output, classes=["a", "b"])

Rows added from the catalog (`skills.data.catalog_data`) train every fold but are never scored:
`score_rows` marks the person's rows, and each fold is scored on its held-out person rows alone, so
catalog rows cannot steer which family or settings win.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FoldOutputs:
    """Out-of-fold outputs of one model: each row's probabilities (n, classes) or prediction (n,),
    from the model fitted without that row's fold, and the scored test rows of each fold."""

    output: Any
    folds: list[Any]


def scored_on_person_rows(score_rows: Any) -> str:
    """What the report and the model card say when catalog rows were merged."""
    n, person = len(score_rows), int(sum(bool(v) for v in score_rows))
    return (
        f"Validation scores (the cross-validation that chose the family and its settings) are on your "
        f"{person:,} rows only: the {n - person:,} catalog rows added to training were fitted in every "
        "fold and never scored."
    )


def _take(x: Any, idx: Any) -> Any:
    return x.iloc[idx] if hasattr(x, "iloc") else x[idx]


def fold_score(scoring: str, y_true: Any, output: Any, classes: Any = None) -> float:
    """The scikit-learn scorer `scoring` computed from outputs (probabilities when `classes` is set:
    the predicted label is the most probable class, as `predict` does)."""
    import numpy as np
    from sklearn import metrics

    if classes is not None:
        pred = np.asarray(classes)[np.asarray(output).argmax(axis=1)]
        if scoring == "accuracy":
            return float(metrics.accuracy_score(y_true, pred))
        if scoring == "f1_macro":
            return float(metrics.f1_score(y_true, pred, average="macro"))
    elif scoring == "r2":
        return float(metrics.r2_score(y_true, output))
    elif scoring == "neg_mean_absolute_error":
        return -float(metrics.mean_absolute_error(y_true, output))
    elif scoring == "neg_root_mean_squared_error":
        return -float(metrics.root_mean_squared_error(y_true, output))
    raise ValueError(f"no ensemble scoring for {scoring!r}")


def cross_val_outputs(
    estimator: Any,
    x: Any,
    y: Any,
    cv: Any,
    scoring: str,
    classes: Any = None,
    y_score: Any = None,
    score_rows: Any = None,
) -> tuple[list[float], FoldOutputs]:
    """`cross_val_score(estimator, x, y, cv=cv, scoring=scoring)` plus the out-of-fold outputs, from
    one fit per fold (probabilities in the column order of `classes` for classifiers).

    `y_score`: the labels the held-out folds are scored on (default `y`): the person's labels when
    `y` carries approved label corrections (`skills.data.label_fixes`); the folds are split on them.
    `score_rows` (boolean, default every row): the rows a held-out fold is scored on; the others
    (catalog rows) are fitted in every fold instead of being held out."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    scorer = get_scorer(scoring)
    y = np.asarray(y)
    given = y if y_score is None else np.asarray(y_score)
    output = np.zeros((len(y), len(classes))) if classes is not None else np.zeros(len(y))
    scores, folds = [], []
    scored = np.ones(len(y), dtype=bool) if score_rows is None else np.asarray(score_rows, dtype=bool)
    for train, held in cv.split(x, given):
        train, test = np.sort(np.concatenate([train, held[~scored[held]]])), held[scored[held]]
        model = clone(estimator).fit(_take(x, train), y[train])
        x_test = _take(x, test)
        scores.append(float(scorer(model, x_test, given[test])))
        if classes is not None:
            cols = [list(classes).index(c) for c in model.classes_]
            output[np.ix_(test, cols)] = model.predict_proba(x_test)
        else:
            output[test] = model.predict(x_test)
        folds.append(test)
    return scores, FoldOutputs(output, folds)
