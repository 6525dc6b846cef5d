"""PNG plots of a dataset (matplotlib, Agg backend: no display needed).

    paths = make_plots(train, test, out_dir="runs/abc/plots", label="score", text="review")

Drawn: the label distribution (train and test), text lengths per class or a grid of sample images,
a 2-D projection of the inputs coloured by label (TruncatedSVD of TF-IDF for text, PCA of the
scaled numeric features for tables), and a map of missing values (only when some are missing).
Each function returns the path it wrote, or None when the plot does not apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer_agent.skills.data.profile import blank_cells

if TYPE_CHECKING:
    import pandas as pd

MAX_POINTS = 2_000
MAX_MISSING_ROWS = 500


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    _pyplot().close(fig)
    return str(path)


def label_distribution(train: pd.DataFrame, test: pd.DataFrame | None, label: str, path: Path) -> str:
    import numpy as np

    plt = _pyplot()
    tr = train[label].astype(str).value_counts()
    te = test[label].astype(str).value_counts() if test is not None else None
    classes = sorted(set(tr.index) | (set(te.index) if te is not None else set()))[:40]
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(classes) + 2), 3.2))
    width = 0.4 if te is not None else 0.8
    ax.bar(x - (width / 2 if te is not None else 0), [tr.get(c, 0) for c in classes], width, label="train")
    if te is not None:
        ax.bar(x + width / 2, [te.get(c, 0) for c in classes], width, label="test")
    ax.set_xticks(
        x, classes, rotation=45 if len(classes) > 6 else 0, ha="right" if len(classes) > 6 else "center"
    )
    ax.set_ylabel("rows")
    ax.set_title(f"Label distribution ('{label}')")
    ax.legend()
    return _save(fig, path)


def text_lengths(train: pd.DataFrame, label: str | None, text: str, path: Path) -> str:
    plt = _pyplot()
    words = train[text].astype("string").fillna("").str.split().str.len()
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    cap = float(words.quantile(0.99)) or 1.0
    if label is not None and train[label].nunique() <= 10:
        for cls, group in words.groupby(train[label].astype(str)):
            ax.hist(group.clip(upper=cap), bins=40, alpha=0.5, label=str(cls))
        ax.legend()
    else:
        ax.hist(words.clip(upper=cap), bins=40)
    ax.set_xlabel("words per text (clipped at the 99th percentile)")
    ax.set_ylabel("rows")
    ax.set_title(f"Text length ('{text}')")
    return _save(fig, path)


def image_grid(train: pd.DataFrame, image: str, label: str | None, path: Path, per_class: int = 4) -> str:
    from PIL import Image

    plt = _pyplot()
    groups = train.groupby(train[label].astype(str)) if label else [("all", train)]
    rows = [(str(cls), group[image].head(per_class).tolist()) for cls, group in groups][:8]
    fig, axes = plt.subplots(len(rows), per_class, figsize=(1.6 * per_class, 1.7 * len(rows)), squeeze=False)
    for r, (cls, files) in enumerate(rows):
        for c in range(per_class):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(files):
                with Image.open(files[c]) as img:
                    ax.imshow(img.convert("RGB"))
                if c == 0:
                    ax.set_title(cls, fontsize=8, loc="left")
    return _save(fig, path)


def projection_2d(
    train: pd.DataFrame,
    label: str | None,
    path: Path,
    text: str | None = None,
    features: list[str] | None = None,
    seed: int = 0,
) -> str | None:
    """The inputs in two dimensions, coloured by label; None when there is nothing to project."""
    import numpy as np
    import pandas as pd

    plt = _pyplot()
    df = train.sample(n=MAX_POINTS, random_state=seed) if len(train) > MAX_POINTS else train
    if text:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        try:
            x = TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(df[text].astype(str))
        except ValueError:
            return None
        if x.shape[1] < 3:
            return None
        points = TruncatedSVD(n_components=2, random_state=seed).fit_transform(x)
        method = "TruncatedSVD of TF-IDF"
    else:
        from sklearn.decomposition import PCA

        cols = [c for c in (features or df.columns) if c != label and pd.api.types.is_numeric_dtype(df[c])]
        if len(cols) < 2:
            return None
        values = df[cols].astype("float64")
        values = values.fillna(values.median())
        std = values.std().replace(0, 1.0)
        points = PCA(n_components=2, random_state=seed).fit_transform(
            ((values - values.mean()) / std).to_numpy()
        )
        method = f"PCA of {len(cols)} scaled numeric features"
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    if label is not None and df[label].nunique() <= 20:
        labels = df[label].astype(str).to_numpy()
        for cls in sorted(set(labels)):
            mask = labels == cls
            ax.scatter(points[mask, 0], points[mask, 1], s=6, alpha=0.6, label=cls)
        ax.legend(markerscale=3, fontsize=7)
    else:
        colour = pd.to_numeric(df[label], errors="coerce") if label else None
        sc = ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.6, c=colour)
        if colour is not None:
            fig.colorbar(sc, ax=ax, label=label)
    ax.set_title(f"2-D projection ({method})", fontsize=9)
    ax.set_xticks(np.array([]))
    ax.set_yticks(np.array([]))
    return _save(fig, path)


def missing_map(df: pd.DataFrame, path: Path) -> str | None:
    """Rows x columns, dark where a value is missing or blank; None when nothing is missing."""

    missing = df.apply(blank_cells).to_numpy(dtype=bool)
    if not missing.any():
        return None
    plt = _pyplot()
    shown = missing[:MAX_MISSING_ROWS]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.4 * df.shape[1] + 2), 4.0))
    ax.imshow(shown, aspect="auto", cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
    ax.set_xticks(range(df.shape[1]), [str(c) for c in df.columns], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(f"row (first {len(shown)})")
    ax.set_title(f"Missing values ({int(missing.sum())} cells)")
    return _save(fig, path)


def make_plots(
    train: pd.DataFrame,
    test: pd.DataFrame | None,
    out_dir: str | Path,
    label: str | None,
    text: str | None = None,
    features: list[str] | None = None,
    classification: bool = True,
    raw: pd.DataFrame | None = None,
    seed: int = 0,
) -> list[str]:
    """Every plot that applies, written under `out_dir`; returns the paths written.

    `raw` (the data as given, before cleaning) is used for the missing-value map.
    """
    out = Path(out_dir)
    written: list[str | None] = []
    if label is not None and classification:
        written.append(label_distribution(train, test, label, out / "label_distribution.png"))
    image = next((c for c in train.columns if str(c) == "image"), None)
    if text:
        written.append(text_lengths(train, label if classification else None, text, out / "text_lengths.png"))
    elif image is not None:
        written.append(image_grid(train, image, label, out / "image_samples.png"))
    if image is None:
        written.append(projection_2d(train, label, out / "projection_2d.png", text, features, seed))
    written.append(missing_map(raw if raw is not None else train, out / "missing_values.png"))
    return [p for p in written if p]
