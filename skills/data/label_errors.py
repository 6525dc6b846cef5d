"""Find likely mislabelled rows by confident learning (whether to relabel them: `skills.data.label_fixes`).

    found = find_label_errors(df, label="score", text="review")
    for issue in found.issues: print(issue.row, issue.given, "->", issue.suggested, issue.confidence)

Method (Northcutt et al., "Confident Learning", the method of the `cleanlab` library, written out
here: on the same out-of-fold probabilities `cleanlab.filter.find_label_issues` (2.9.0,
Apache-2.0) flags nearly the same rows, scripts/bench/label_fixes.py): out-of-fold class
probabilities from a quick model (TF-IDF + logistic regression for text, scaled/one-hot logistic
regression for tables); a per-class threshold, the mean probability of that class over the rows
labelled with it; the confident joint of given and confidently predicted labels, calibrated to the
class counts; for each off-diagonal cell (given i, true j) the C[i][j] rows labelled i with the
largest margin p_j - p_i are suspects, unless the model's own top prediction agrees with the given
label.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trainer_agent.skills.specs import LabelIssue

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_ROWS = 100_000  # above this, out-of-fold training would dominate the data stage
DEFAULT_MIN_CONFIDENCE = 0.9  # the bar for proposing a relabel (skills.data.label_fixes)


@dataclass
class LabelErrorResult:
    issues: list[LabelIssue] = field(default_factory=list)
    n_checked: int = 0
    oof_accuracy: float | None = None
    classes: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0


def out_of_fold_probabilities(
    df: pd.DataFrame,
    label: str,
    text: str | None = None,
    features: list[str] | None = None,
    folds: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """Class probabilities for every row from a model that never saw that row; and the classes."""
    y = df[label].astype(str).to_numpy()
    classes = sorted(set(y))
    x = feature_matrix(df, label, text, features)
    return fold_probabilities(x, y, y, bool(text), classes, folds, seed), classes


def fold_probabilities(
    x: Any,
    y: np.ndarray,
    fit_y: np.ndarray,
    sparse_text: bool,
    classes: list[str],
    folds: int,
    seed: int,
    balanced: bool = False,
) -> np.ndarray:
    """Out-of-fold probabilities (columns: `classes`) of models fitted on `fit_y` of the other folds;
    the folds are stratified on `y`, so the same seed gives the same folds whatever `fit_y` is.
    `balanced`: classes weighted inversely to their frequency (`probe_model`)."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    folds = max(2, min(folds, int(min((y == c).sum() for c in classes))))
    probs = np.zeros((len(y), len(classes)))
    for fit, held in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        model = probe_model(sparse_text, len(classes), balanced)
        model.fit(x[fit], fit_y[fit])
        cols = [classes.index(c) for c in model.classes_]
        probs[np.ix_(held, cols)] = model.predict_proba(x[held])
    return probs


def probe_model(sparse_text: bool, n_classes: int, balanced: bool = False) -> Any:
    """A quick logistic regression: liblinear for binary text (several times faster than lbfgs on
    sparse input; it is binary-only in current scikit-learn), multinomial lbfgs otherwise.
    `balanced` weights classes inversely to their frequency, so a rare class is no evidence."""
    from sklearn.linear_model import LogisticRegression

    weight = "balanced" if balanced else None
    if sparse_text and n_classes == 2:
        return LogisticRegression(max_iter=2000, C=4.0, solver="liblinear", class_weight=weight)
    return LogisticRegression(max_iter=2000, C=4.0 if sparse_text else 1.0, class_weight=weight)


def feature_matrix(df: pd.DataFrame, label: str, text: str | None, features: list[str] | None) -> Any:
    """Text: TF-IDF fitted on all rows (unsupervised, so no label leaks between folds); else a
    scaled numeric / one-hot categorical matrix."""
    import pandas as pd

    if text:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(df[text].astype(str))
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cols = [c for c in (features or df.columns) if c != label]
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(df[c])]
    categorical = [c for c in cols if c not in numeric and df[c].nunique() <= 50]
    parts = []
    if numeric:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), categorical))
    if not parts:
        raise ValueError("no usable feature columns")
    frame = df[numeric + categorical].copy()
    for c in categorical:
        frame[c] = frame[c].astype("string").fillna("(missing)").astype(object)
    return ColumnTransformer(parts, sparse_threshold=0.0).fit_transform(frame)


def confident_learning(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Suspect rows (a boolean mask) and the label each suspect most likely has.

    `labels` are class indices into the columns of `probs` (out-of-fold probabilities).
    """
    import numpy as np

    n, k = probs.shape
    counts = np.bincount(labels, minlength=k)
    thresholds = np.array([probs[labels == j, j].mean() if counts[j] else 1.0 for j in range(k)])
    above = probs >= thresholds - 1e-6
    masked = np.where(above, probs, -1.0)
    confident = masked.argmax(axis=1)
    has_any = above.any(axis=1)
    joint = np.zeros((k, k))
    np.add.at(joint, (labels[has_any], confident[has_any]), 1)
    # Calibrate each row of the joint to the number of rows with that given label.
    row_sums = joint.sum(axis=1, keepdims=True)
    calibrated = np.divide(joint * counts[:, None], row_sums, out=np.zeros_like(joint), where=row_sums > 0)
    suspects = np.zeros(n, dtype=bool)
    suggested = probs.argmax(axis=1)
    for i in range(k):
        rows = np.flatnonzero(labels == i)
        for j in range(k):
            take = int(round(calibrated[i, j])) if i != j else 0
            if take <= 0 or not len(rows):
                continue
            margin = probs[rows, j] - probs[rows, i]
            chosen = rows[np.argsort(-margin, kind="stable")[:take]]
            suspects[chosen] = True
    suspects &= probs.argmax(axis=1) != labels
    return suspects, suggested


def suspects_of(labels: np.ndarray, probs: np.ndarray, classes: list[str]) -> list[LabelIssue]:
    """Confident learning's suspects as issues (rows are positions in `labels`), in row order."""
    import numpy as np

    suspects, suggested = confident_learning(labels, probs)
    return [
        LabelIssue(
            row=int(row),
            given=classes[labels[row]],
            suggested=classes[suggested[row]],
            confidence=round(float(probs[row, suggested[row]]), 4),
        )
        for row in np.flatnonzero(suspects)
    ]


def find_label_errors(
    df: pd.DataFrame,
    label: str,
    text: str | None = None,
    features: list[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    preview_column: str | None = None,
) -> LabelErrorResult:
    """Rows of `df` (0-based positions) whose label is likely wrong, most confident first."""
    import numpy as np

    start = time.perf_counter()
    result = LabelErrorResult(n_checked=len(df))
    counts = df[label].astype(str).value_counts()
    if len(counts) < 2:
        result.skipped = "only one class"
    elif len(df) > MAX_ROWS:
        result.skipped = f"over {MAX_ROWS:,} rows"
    elif counts.min() < 5:
        result.skipped = f"class '{counts.idxmin()}' has fewer than 5 rows, too few for cross-validation"
    if result.skipped:
        return result
    try:
        probs, classes = out_of_fold_probabilities(df, label, text, features, folds, seed)
    except ValueError as err:  # no usable features, or an empty vocabulary
        result.skipped = str(err)
        return result
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[v] for v in df[label].astype(str)])
    result.classes = classes
    result.oof_accuracy = round(float((probs.argmax(axis=1) == labels).mean()), 4)
    show = preview_column or text
    result.issues = suspects_of(labels, probs, classes)
    for issue in result.issues:
        issue.preview = str(df.iloc[issue.row][show])[:120] if show else ""
    result.issues.sort(key=lambda i: -i.confidence)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def flip_labels(df: pd.DataFrame, label: str, fraction: float, seed: int) -> tuple[pd.DataFrame, set[int]]:
    """Plant label noise to measure against: give `fraction` of the rows another class at random;
    return the copy and the flipped positions."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = df.copy()
    rows = rng.choice(len(df), int(round(fraction * len(df))), replace=False)
    classes = sorted(out[label].unique())
    column = out.columns.get_loc(label)
    for row in rows:
        current = out.iloc[row, column]
        out.iloc[row, column] = rng.choice([c for c in classes if c != current])
    return out, {int(r) for r in rows}


def precision_recall(found: set[int], planted: set[int]) -> tuple[float, float]:
    """Precision and recall of `found` rows against the `planted` ones."""
    hits = len(found & planted)
    return (hits / len(found) if found else 0.0, hits / len(planted) if planted else 1.0)
