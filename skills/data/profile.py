"""Profile a dataset: what the columns are, how the labels are spread, and what is wrong with it.

    prof = profile_data(train_df, test_df, label="score", text="review")
    prof.findings        # sentences for the data card, the chat and the report
    prof.to_dict()       # everything measured, for data/profile.json

Checks: column kinds and missing values, label distribution and imbalance, exact and near
duplicates (within the training set and across train/test: leakage), inputs that carry more than
one label, text length or image size statistics, outliers, and suspicious columns: constant ones,
identifiers, and features that give the label away on their own (leaks). Near-duplicate search
and the leak probe are skipped on very large data, and the profile says so.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

NEAR_DUP_MAX_ROWS = 30_000  # TF-IDF cosine search above this would dominate the data stage
LEAK_PROBE_MAX_FEATURES = 100
LEAK_PROBE_ROWS = 2_000
NEAR_DUP_COSINE = 0.9
_ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid|key|index|idx)$|^(unnamed|row_?num|record)", re.IGNORECASE)
_IMAGE_SUFFIX = re.compile(r"\.(?:png|jpe?g|bmp|gif|webp|tiff?)$", re.IGNORECASE)


@dataclass
class Profile:
    rows: dict[str, int]
    columns: dict[str, dict[str, Any]]  # name -> kind, dtype, missing, distinct
    label: str | None
    text: str | None
    label_counts: dict[str, int] = field(default_factory=dict)
    imbalance_ratio: float | None = None
    duplicates: dict[str, int] = field(default_factory=dict)
    near_duplicate_pairs: list[tuple[int, int, float]] = field(default_factory=list)  # within train
    leak_pairs: list[tuple[int, int, float]] = field(default_factory=list)  # train row, test row
    conflicting_inputs: int = 0
    text_lengths: dict[str, dict[str, float]] = field(default_factory=dict)
    image_sizes: dict[str, float] = field(default_factory=dict)
    outliers: dict[str, int] = field(default_factory=dict)
    suspicious: dict[str, str] = field(default_factory=dict)  # column -> why
    findings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["near_duplicate_pairs"] = [list(p) for p in self.near_duplicate_pairs[:200]]
        out["leak_pairs"] = [list(p) for p in self.leak_pairs[:200]]
        return out


def profile_data(
    train: pd.DataFrame,
    test: pd.DataFrame | None = None,
    label: str | None = None,
    text: str | None = None,
    features: list[str] | None = None,
    classification: bool = True,
    seed: int = 0,
) -> Profile:
    """Profile `train` (and `test`, for leakage); `features` defaults to every non-label column."""

    start = time.perf_counter()
    features = [c for c in (features or list(train.columns)) if c != label]
    prof = Profile(
        rows={"train": len(train), **({"test": len(test)} if test is not None else {})},
        columns={str(c): _column_info(train[c], c == label, c == text) for c in train.columns},
        label=label,
        text=text,
    )
    if label is not None and label in train.columns:
        _labels(prof, train, label, classification)
    _duplicates(prof, train, test, label, text, features)
    if label is not None and classification and label in train.columns:
        keys = _row_keys(train, [text] if text else features)
        prof.conflicting_inputs = int((train.groupby(keys)[label].nunique() > 1).sum())
        if prof.conflicting_inputs:
            prof.findings.append(
                f"{_n(prof.conflicting_inputs, 'input')} appear with more than one label in training."
            )
    if text:
        _text_lengths(prof, train, test, text)
    if (
        "width" in train.columns
        and "height" in train.columns
        and any(prof.columns[c]["kind"] == "image" for c in prof.columns)
    ):
        _image_sizes(prof, train)
    _outliers(prof, train, features, text)
    _suspicious(prof, train, label, text, features, classification, seed)
    missing = {c: info["missing"] for c, info in prof.columns.items() if info["missing"]}
    if missing:
        worst = max(missing, key=lambda c: missing[c])
        prof.findings.append(
            f"Missing values in {_n(len(missing), 'column')}; most in '{worst}' "
            f"({missing[worst]} of {len(train)} rows)."
        )
    _NORMALIZED.clear()
    prof.seconds = round(time.perf_counter() - start, 3)
    return prof


# --- columns -------------------------------------------------------------------------------


def blank_cells(series: pd.Series) -> pd.Series:
    import pandas as pd

    if pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series):
        return series.isna() | series.astype("string").str.strip().eq("").fillna(True)
    return series.isna()


def _column_info(series: pd.Series, is_label: bool, is_text: bool) -> dict[str, Any]:
    import pandas as pd

    values = series[~blank_cells(series)]
    distinct = int(values.nunique())
    info: dict[str, Any] = {
        "dtype": str(series.dtype),
        "missing": int(len(series) - len(values)),
        "distinct": distinct,
    }
    if is_label:
        kind = "label"
    elif distinct <= 1:
        kind = "constant"
    elif pd.api.types.is_bool_dtype(series):
        kind = "boolean"
    elif pd.api.types.is_numeric_dtype(series):
        kind = "numeric"
    else:
        strings = values.astype(str)
        if len(strings) and strings.head(200).str.contains(_IMAGE_SUFFIX).mean() > 0.9:
            kind = "image"
        elif is_text or (
            len(strings) and strings.str.len().mean() >= 30 and strings.str.contains(" ").mean() > 0.5
        ):
            kind = "text"
        else:
            kind = "categorical"
    info["kind"] = kind
    return info


def _labels(prof: Profile, train: pd.DataFrame, label: str, classification: bool) -> None:
    values = train[label][~blank_cells(train[label])]
    if not classification:
        return
    counts = values.astype(str).value_counts()
    prof.label_counts = {str(k): int(v) for k, v in counts.sort_index().items()}
    if len(counts) >= 2:
        prof.imbalance_ratio = round(float(counts.max() / counts.min()), 3)
        if prof.imbalance_ratio >= 3:
            prof.findings.append(
                f"Labels are imbalanced: '{counts.index[0]}' has {counts.iloc[0]} rows, "
                f"'{counts.index[-1]}' only {counts.iloc[-1]} (ratio {prof.imbalance_ratio:.1f})."
            )


# --- duplicates and leakage ----------------------------------------------------------------


_NORMALIZED: dict[tuple[int, str], tuple[pd.DataFrame, pd.Series]] = {}  # cleared by profile_data


def _normalized_column(df: pd.DataFrame, column: str) -> pd.Series:
    """`_normalized_text(df[column])`, computed once per frame and column within `profile_data`."""
    key = (id(df), str(column))
    hit = _NORMALIZED.get(key)
    if hit is not None and hit[0] is df:
        return hit[1]
    result = _normalized_text(df[column])
    _NORMALIZED[key] = (df, result)
    return result


def _normalized_text(series: pd.Series) -> pd.Series:
    """Text up to case, punctuation, HTML breaks and spacing: what a near-copy shares."""
    return _normalized_text_uncached(series)


def _normalized_text_uncached(series: pd.Series) -> pd.Series:
    lowered = series.astype("string").fillna("").str.lower()
    return (
        lowered.str.replace(r"<br\s*/?>", " ", regex=True)
        .str.replace(r"[^\w\s]", " ", regex=True)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
    )


def _row_keys(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One hashable key per row: numbers to 6 significant digits, strings normalized."""
    import pandas as pd

    parts = {}
    for c in columns:
        s = df[c]
        if pd.api.types.is_numeric_dtype(s):
            parts[c] = s.astype("float64").map(lambda v: "nan" if v != v else f"{v:.6g}")
        else:
            parts[c] = _normalized_column(df, c)
    frame = pd.DataFrame(parts, index=df.index)
    return pd.util.hash_pandas_object(frame, index=False)


def _duplicates(
    prof: Profile,
    train: pd.DataFrame,
    test: pd.DataFrame | None,
    label: str | None,
    text: str | None,
    features: list[str],
) -> None:
    inputs = [text] if text else features
    used = [*inputs, *([label] if label else [])]
    exact = int(train.duplicated().sum())  # every column equal
    same_used = int(train.duplicated(subset=used).sum())
    near_keys = _row_keys(train, inputs)
    near = int(near_keys.duplicated().sum())
    prof.duplicates = {"exact": exact, "same_input_and_label": same_used, "same_input_normalized": near}
    if exact:
        prof.findings.append(f"{_n(exact, 'exact duplicate row')} (every column equal) in the training data.")
    if same_used > exact:
        others = [str(c) for c in train.columns if c not in used]
        prof.findings.append(
            f"{_n(same_used - exact, 'training row')} repeat another's {' and '.join(map(repr, used))} "
            f"but differ in {', '.join(map(repr, others))}."
        )
    if near > same_used:
        prof.findings.append(
            f"{_n(near, 'training row')} repeat another's input up to case, punctuation or rounding."
        )
    if test is not None:
        test_keys = _row_keys(test, inputs)
        leaked = int(near_keys.isin(set(test_keys.tolist())).sum())
        prof.duplicates["train_rows_in_test"] = leaked
        if leaked:
            prof.findings.append(
                f"Leakage: {_n(leaked, 'training row')} have the same input as a test row "
                "(up to case, punctuation or rounding)."
            )
    if text:
        n = len(train) + (len(test) if test is not None else 0)
        if n > NEAR_DUP_MAX_ROWS:
            prof.skipped.append(f"near-duplicate text search (over {NEAR_DUP_MAX_ROWS:,} rows)")
            return
        _near_duplicate_texts(prof, train, test, text)


def _near_duplicate_texts(prof: Profile, train: pd.DataFrame, test: pd.DataFrame | None, text: str) -> None:
    """Pairs of texts with TF-IDF cosine >= NEAR_DUP_COSINE that are not already identical."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    train_text = _normalized_column(train, text).tolist()
    test_text = _normalized_column(test, text).tolist() if test is not None else []
    try:
        # Words in over 5% of the texts say little about copying and make the pairwise product dense.
        vectorizer = TfidfVectorizer(sublinear_tf=True, max_df=0.05, dtype=np.float32)
        both = vectorizer.fit_transform(train_text + test_text)
    except ValueError:  # every text is empty or a stop word
        return
    a, b = both[: len(train_text)], both[len(train_text) :]
    within = _similar_pairs(a, a, upper_only=True)
    same_a = np.array(train_text, dtype=object)
    prof.near_duplicate_pairs = [(i, j, s) for i, j, s in within if same_a[i] != same_a[j]]
    if prof.near_duplicate_pairs:
        prof.findings.append(
            f"{_n(len(prof.near_duplicate_pairs), 'pair')} of training texts are near-duplicates "
            f"(TF-IDF cosine >= {NEAR_DUP_COSINE})."
        )
    if test is not None and test_text:
        same_b = np.array(test_text, dtype=object)
        prof.leak_pairs = [(i, j, s) for i, j, s in _similar_pairs(a, b) if same_a[i] != same_b[j]]
        if prof.leak_pairs:
            rows = len({i for i, _, _ in prof.leak_pairs})
            shown = ", ".join(f"training row {i} ~ test row {j} ({s:.2f})" for i, j, s in prof.leak_pairs[:3])
            more = len(prof.leak_pairs) - 3
            prof.findings.append(
                f"Possible leakage: training texts that nearly copy a test text (cosine >= "
                f"{NEAR_DUP_COSINE}): {rows}; {shown}"
                + (f" and {more} more pairs" if more > 0 else "")
                + " (every pair: leak_pairs in profile.json)."
            )


def _similar_pairs(
    a: Any, b: Any, upper_only: bool = False, chunk: int = 1000
) -> list[tuple[int, int, float]]:
    """(row of a, row of b, cosine) for every pair at or above the threshold; rows are L2-normed."""
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, a.shape[0], chunk):
        block = (a[start : start + chunk] @ b.T).tocoo()
        keep = block.data >= NEAR_DUP_COSINE
        rows, cols, vals = block.row[keep] + start, block.col[keep], block.data[keep]
        if upper_only:
            upper = cols > rows
            rows, cols, vals = rows[upper], cols[upper], vals[upper]
        pairs += [(int(r), int(c), round(float(v), 4)) for r, c, v in zip(rows, cols, vals, strict=True)]
    pairs.sort(key=lambda p: -p[2])
    return pairs


# --- lengths, sizes, outliers --------------------------------------------------------------


def _stats(values: pd.Series) -> dict[str, float]:
    values = values.dropna().astype("float64")
    if values.empty:
        return {}
    return {
        "min": float(values.min()),
        "median": float(values.median()),
        "mean": round(float(values.mean()), 2),
        "p95": float(values.quantile(0.95)),
        "max": float(values.max()),
    }


def _text_lengths(prof: Profile, train: pd.DataFrame, test: pd.DataFrame | None, text: str) -> None:
    sets = {"train": train} if test is None else {"train": train, "test": test}
    for name, df in sets.items():
        chars = df[text].astype("string").fillna("").str.len()
        words = df[text].astype("string").fillna("").str.split().str.len()
        prof.text_lengths[f"{name}_chars"] = _stats(chars)
        prof.text_lengths[f"{name}_words"] = _stats(words)
    words = train[text].astype("string").fillna("").str.split().str.len()
    short = int((words < 3).sum())
    q1, q3 = words.quantile(0.25), words.quantile(0.75)
    long = int((words > q3 + 3 * (q3 - q1)).sum()) if q3 > q1 else 0
    prof.outliers["very_short_texts"] = short
    prof.outliers["very_long_texts"] = long
    if short:
        prof.findings.append(f"{_n(short, 'training text')} have fewer than 3 words.")
    if long:
        prof.findings.append(
            f"{_n(long, 'training text')} are unusually long (over {q3 + 3 * (q3 - q1):.0f} words)."
        )


def _image_sizes(prof: Profile, train: pd.DataFrame) -> None:
    w, h = train["width"].astype("float64"), train["height"].astype("float64")
    prof.image_sizes = {
        "width_min": float(w.min()),
        "width_max": float(w.max()),
        "height_min": float(h.min()),
        "height_max": float(h.max()),
        "distinct_sizes": int(train[["width", "height"]].drop_duplicates().shape[0]),
    }
    if prof.image_sizes["distinct_sizes"] > 1:
        prof.findings.append(
            f"Images come in {prof.image_sizes['distinct_sizes']} sizes "
            f"({w.min():.0f}-{w.max():.0f} x {h.min():.0f}-{h.max():.0f} px); they are resized for training."
        )


def _outliers(prof: Profile, train: pd.DataFrame, features: list[str], text: str | None) -> None:
    """Rows with a numeric feature more than 6 robust standard deviations from the median.

    Only features with 20 distinct values or more: on counts and codes the median absolute
    deviation is too coarse to call anything an outlier."""
    import numpy as np
    import pandas as pd

    numeric = [
        c
        for c in features
        if c != text and pd.api.types.is_numeric_dtype(train[c]) and train[c].nunique() >= 20
    ]
    if not numeric:
        return
    values = train[numeric].astype("float64")
    median = values.median()
    mad = (values - median).abs().median() * 1.4826
    z = ((values - median) / mad.replace(0, np.nan)).abs()
    flagged = z > 6
    per_column = {c: int(flagged[c].sum()) for c in numeric if int(flagged[c].sum())}
    prof.outliers.update({f"numeric:{c}": v for c, v in per_column.items()})
    rows = int(flagged.any(axis=1).sum())
    prof.outliers["rows_with_numeric_outliers"] = rows
    if rows:
        top = sorted(per_column, key=lambda c: -per_column[c])[:3]
        prof.findings.append(
            f"{_n(rows, 'row')} have a numeric value over 6 robust SDs from the median "
            f"(most in {', '.join(repr(c) for c in top)})."
        )


# --- suspicious columns --------------------------------------------------------------------


def id_like(series: pd.Series, name: str) -> bool:
    """An identifier: unique in (nearly) every row and named like one, a counter, or a code."""
    import pandas as pd

    values = series.dropna()
    if len(values) < 20:
        return False
    unique_share = values.nunique() / len(values)
    if _ID_NAME.search(str(name)) and unique_share > 0.95:
        return True
    if pd.api.types.is_integer_dtype(values) and unique_share == 1.0:
        ordered = values.sort_values().to_numpy()
        return bool((ordered[1:] - ordered[:-1] == 1).mean() > 0.95)
    if pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values):
        strings = values.astype(str)
        return unique_share == 1.0 and not strings.str.contains(r"\s").any() and strings.str.len().max() <= 64
    return False


def _suspicious(
    prof: Profile,
    train: pd.DataFrame,
    label: str | None,
    text: str | None,
    features: list[str],
    classification: bool,
    seed: int,
) -> None:
    for c in features:
        if c == text:
            continue
        if prof.columns[str(c)]["kind"] == "constant":
            prof.suspicious[str(c)] = "constant: a single value"
        elif id_like(train[c], str(c)):
            prof.suspicious[str(c)] = "identifier: different in every row"
            prof.columns[str(c)]["kind"] = "id"
    if label is not None and label in train.columns:
        probe = [c for c in features if c != text and str(c) not in prof.suspicious]
        if len(probe) > LEAK_PROBE_MAX_FEATURES:
            prof.skipped.append(f"label-leak probe (over {LEAK_PROBE_MAX_FEATURES} features)")
        else:
            for c, score in _leaky_features(train, label, probe, classification, seed).items():
                metric = "accuracy" if classification else "|Spearman r|"
                prof.suspicious[str(c)] = f"label leak: alone it predicts the label ({metric} {score:.3f})"
    for c, why in prof.suspicious.items():
        prof.findings.append(f"Column '{c}' looks suspicious: {why}.")


def _leaky_features(
    train: pd.DataFrame, label: str, features: list[str], classification: bool, seed: int
) -> dict[str, float]:
    """Features that on their own predict the label almost perfectly, while the label is not trivial."""
    import pandas as pd

    df = train[~blank_cells(train[label])]
    if len(df) > LEAK_PROBE_ROWS:
        df = df.sample(n=LEAK_PROBE_ROWS, random_state=seed)
    if len(df) < 30:
        return {}
    y = df[label]
    found: dict[str, float] = {}
    if not classification:
        target = pd.to_numeric(y, errors="coerce")
        for c in features:
            if pd.api.types.is_numeric_dtype(df[c]):
                r = df[c].astype("float64").corr(target, method="spearman")
                if r == r and abs(r) >= 0.99:
                    found[c] = round(abs(float(r)), 4)
        return found
    y = y.astype(str)
    baseline = float(y.value_counts(normalize=True).max())
    if baseline >= 0.95:
        return {}
    for c in features:
        score = _single_feature_accuracy(df[c], y, seed)
        if score is not None and score >= 0.99:
            found[c] = round(score, 4)
    return found


def _single_feature_accuracy(x: pd.Series, y: pd.Series, seed: int) -> float | None:
    """3-fold accuracy of a small tree (numbers) or a value -> majority-label table (categories)."""
    import pandas as pd
    from sklearn.model_selection import StratifiedKFold
    from sklearn.tree import DecisionTreeClassifier

    if y.value_counts().min() < 3:
        return None
    if pd.api.types.is_numeric_dtype(x):
        values = x.astype("float64").fillna(x.median()).to_numpy().reshape(-1, 1)
        labels = y.to_numpy()
        hits = 0
        for fit, held in StratifiedKFold(n_splits=3, shuffle=True, random_state=seed).split(values, labels):
            tree = DecisionTreeClassifier(max_depth=3, random_state=seed).fit(values[fit], labels[fit])
            hits += int((tree.predict(values[held]) == labels[held]).sum())
        return hits / len(labels)
    keys = x.astype("string").fillna("\x00")
    if keys.nunique() > len(keys) / 2:  # near-unique values cannot generalize; ids are handled apart
        return None
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    correct = 0
    for fit, held in folds.split(keys, y):
        table = pd.DataFrame({"k": keys.iloc[fit].to_numpy(), "y": y.iloc[fit].to_numpy()})
        majority = table.groupby("k")["y"].agg(lambda s: s.value_counts().index[0])
        fallback = y.iloc[fit].value_counts().index[0]
        predicted = keys.iloc[held].map(majority).fillna(fallback)
        correct += int((predicted.to_numpy() == y.iloc[held].to_numpy()).sum())
    return correct / len(keys)


def _n(count: int, word: str) -> str:
    return f"{count} {word if count == 1 else word + 's'}"
