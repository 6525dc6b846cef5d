"""Feature selection and dimensionality reduction, each recorded with its effect.

    kept, dropped = select_columns(df, label="y", features=cols)   # constant / duplicate / id-like
    effect = reduce_dimensions(df, label="y", features=kept)       # PCA (tables) or TruncatedSVD (text)
    reduced = project(df, label="y", features=kept, n_components=effect["components"])

`select_columns` is safe to apply (the dropped columns cannot help a model, or hurt it); the
projection is measured, not applied in the pipeline: its effect is a probe model's cross-validated
score before and after, and the exported model keeps the original inputs.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from trainer_agent.skills.data.profile import id_like

if TYPE_CHECKING:
    import pandas as pd

WIDE = 30  # numeric features from which a projection is worth measuring in the pipeline
PROBE_ROWS = 5_000


def select_columns(
    df: pd.DataFrame, label: str | None, features: list[str] | None = None, text: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """Features worth keeping, and the dropped ones with the reason: constant, a duplicate of an
    earlier column, or an identifier. The text column is always kept."""
    import pandas as pd

    features = [c for c in (features or list(df.columns)) if c != label]
    kept: list[str] = []
    dropped: dict[str, str] = {}
    seen: dict[int, str] = {}
    for c in features:
        if c == text:
            kept.append(c)
            continue
        series = df[c]
        if series.nunique(dropna=False) <= 1:
            dropped[c] = "constant"
            continue
        key = int(pd.util.hash_pandas_object(series.astype("string").fillna("\x00"), index=False).sum())
        if key in seen and df[seen[key]].astype("string").equals(series.astype("string")):
            dropped[c] = f"duplicate of '{seen[key]}'"
            continue
        seen.setdefault(key, c)
        if id_like(series, str(c)):
            dropped[c] = "identifier"
            continue
        kept.append(c)
    if not kept and features:  # never leave a model without inputs
        return features, {}
    return kept, dropped


def _matrix(
    df: pd.DataFrame, label: str | None, text: str | None, features: list[str] | None
) -> tuple[Any, str]:
    import pandas as pd

    if text:
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(df[text].astype(str)), "sparse"
    cols = [c for c in (features or df.columns) if c != label and pd.api.types.is_numeric_dtype(df[c])]
    values = df[cols].astype("float64")
    values = values.fillna(values.median())
    std = values.std().replace(0, 1.0)
    return ((values - values.mean()) / std).to_numpy(), "dense"


def reduce_dimensions(
    df: pd.DataFrame,
    label: str | None,
    text: str | None = None,
    features: list[str] | None = None,
    variance: float = 0.95,
    max_components: int = 100,
    classification: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """How many components keep `variance` of the variance, and what that does to a probe model.

    Tables use PCA on the scaled numeric features; text uses TruncatedSVD on TF-IDF (sparse).
    """
    import numpy as np

    start = time.perf_counter()
    sample = df.sample(n=PROBE_ROWS, random_state=seed) if len(df) > PROBE_ROWS else df
    x, kind = _matrix(sample, label, text, features)
    n_inputs = int(x.shape[1])
    limit = max(1, min(max_components, n_inputs - 1, x.shape[0] - 1))
    if kind == "sparse":
        from sklearn.decomposition import TruncatedSVD

        model: Any = TruncatedSVD(n_components=limit, random_state=seed).fit(x)
        method = "TruncatedSVD of TF-IDF"
    else:
        from sklearn.decomposition import PCA

        model = PCA(n_components=limit, random_state=seed).fit(x)
        method = "PCA of scaled numeric features"
    cumulative = np.cumsum(model.explained_variance_ratio_)
    reached = bool(cumulative[-1] >= variance)
    components = int(np.searchsorted(cumulative, variance) + 1) if reached else limit
    effect: dict[str, Any] = {
        "method": method,
        "inputs": n_inputs,
        "components": components,
        "variance_kept": round(float(cumulative[components - 1]), 4),
        "target_variance": variance,
    }
    if label is not None and classification:
        y = sample[label].astype(str).to_numpy()
        if min(np.unique(y, return_counts=True)[1]) >= 3:
            effect["probe_score_before"] = _probe_score(x, y, seed)
            effect["probe_score_after"] = _probe_score(model.transform(x)[:, :components], y, seed)
    effect["seconds"] = round(time.perf_counter() - start, 3)
    return effect


def _probe_score(x: Any, y: Any, seed: int) -> float:
    import numpy as np
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from trainer_agent.skills.data.label_errors import probe_model

    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    model = probe_model(sparse_text=hasattr(x, "tocsr"), n_classes=len(np.unique(y)))
    return round(float(np.mean(cross_val_score(model, x, y, cv=folds))), 4)


def describe(effect: dict[str, Any]) -> str:
    """One sentence for the data card."""
    text = (
        f"{effect['method']}: {effect['components']} components keep {effect['variance_kept']:.0%} "
        f"of the variance of {effect['inputs']} inputs"
    )
    if "probe_score_before" in effect:
        text += (
            f"; a probe model scores {effect['probe_score_before']:.3f} on all inputs and "
            f"{effect['probe_score_after']:.3f} on the components (3-fold accuracy)"
        )
    return text + "."


def project(
    df: pd.DataFrame,
    label: str | None,
    n_components: int,
    text: str | None = None,
    features: list[str] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The data as `n_components` columns component_0.. (plus the label): for `data reduce --out`."""
    import pandas as pd

    x, kind = _matrix(df, label, text, features)
    n_components = max(1, min(n_components, x.shape[1] - 1 if kind == "sparse" else x.shape[1]))
    if kind == "sparse":
        from sklearn.decomposition import TruncatedSVD

        points = TruncatedSVD(n_components=n_components, random_state=seed).fit_transform(x)
    else:
        from sklearn.decomposition import PCA

        points = PCA(n_components=n_components, random_state=seed).fit_transform(x)
    out = pd.DataFrame(points, columns=[f"component_{i}" for i in range(points.shape[1])], index=df.index)
    if label is not None:
        out[label] = df[label].to_numpy()
    return out
