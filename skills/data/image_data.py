"""Image data: decode a person's images, copy them normalised into the run directory, split them,
profile them, and turn them into the pixel arrays the image models take (`skills.model.train_image`).

Layouts: a folder with one sub-folder of images per class (photos/cat/1.jpg, the ImageFolder
layout), or a table (CSV, ...) with a column of image paths (relative to the table's folder, or
absolute) and a label column. Files that do not decode are skipped and counted; identical images
(same pixels) are kept once.

    report = prepare_images(spec, "photos/", None, "runs/abc")
    # runs/abc/data/images/<sha>.png, data/train.csv and data/test.csv (image, label, width,
    # height, mode; `image` relative to data/), data_card.md
    x = load_arrays("runs/abc/data/test.csv", "image", side=28, channels=1)   # uint8 [n, 28, 28, 1]

Serving decodes the same way: `pixels_from_base64(text, side, channels)`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from trainer_agent.skills.data.data_io import load_table
from trainer_agent.skills.data.profile import Profile
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import DataReport, TaskSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from PIL import Image

IMAGE_COLUMN = "image"
STORE_MAX_SIDE = 256  # larger images are shrunk (aspect kept) when copied into the run directory
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
SKIPPED_SHOWN = 3


# --- decoding ---------------------------------------------------------------------------------


def open_image(source: bytes | str | Path) -> Image.Image:
    """The fully decoded image; ValueError with the reason when it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        img.load()  # Image.open reads the header only; a truncated file fails here
    except UnidentifiedImageError:
        raise ValueError("not a readable image (unknown format)") from None
    except (OSError, SyntaxError, ValueError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"not a readable image ({text})") from None
    return img


def normalise(img: Image.Image) -> Image.Image:
    """Grayscale images as mode L, everything else as RGB; transparency laid on white."""
    from PIL import Image

    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, rgba)
        return flat.convert("L" if img.mode in ("LA",) else "RGB")
    return img.convert("L" if img.mode in GRAY_MODES else "RGB")


def to_pixels(img: Image.Image, side: int, channels: int) -> np.ndarray:
    """uint8 [side, side, channels]: converted to gray or RGB and resized (bilinear, no crop)."""
    import numpy as np
    from PIL import Image

    img = normalise(img).convert("L" if channels == 1 else "RGB")
    if img.size != (side, side):
        img = img.resize((side, side), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8).reshape(side, side, channels)


def decode_base64(text: str) -> bytes:
    """The bytes of a base64 string (a data: URL prefix is accepted); ValueError when it is not base64."""
    if "," in text[:100] and text.lstrip().startswith("data:"):
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64 text") from None


def pixels_from_base64(text: str, side: int, channels: int) -> np.ndarray:
    """What the service does with one input: base64 -> decode -> gray/RGB -> resize."""
    return to_pixels(open_image(decode_base64(text)), side, channels)


def encode_png(img: Image.Image, max_side: int | None = None) -> str:
    """A base64 PNG of `img` (shrunk to `max_side` first when given), as clients send it."""
    img = normalise(img)
    if max_side is not None and max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def load_arrays(csv_path: str | Path, column: str, side: int, channels: int) -> np.ndarray:
    """The images a prepared CSV lists (paths relative to its folder) as uint8 [n, side, side, channels]."""
    import numpy as np
    import pandas as pd

    path = Path(csv_path)
    frame = pd.read_csv(path)
    if column not in frame.columns:
        raise UserError(f"Image column '{column}' is missing from {path}.")
    out = np.zeros((len(frame), side, side, channels), dtype=np.uint8)
    for i, name in enumerate(frame[column].astype(str)):
        file = Path(name) if Path(name).is_absolute() else path.parent / name
        try:
            out[i] = to_pixels(open_image(file), side, channels)
        except ValueError as err:
            raise UserError(f"Image '{file}' listed in {path} {err}.") from None
    return out


# --- preparing a data set ---------------------------------------------------------------------


def _sources(spec: TaskSpec, path: str | Path, label: str) -> tuple[pd.DataFrame, list[str]]:
    """(rows with an absolute `source` path and the label, notes on files left out) of a folder or table."""
    import pandas as pd

    path = Path(path)
    frame = load_table(path)
    notes: list[str] = []
    if path.is_dir():
        column, base = IMAGE_COLUMN, path
        unreadable = frame.attrs.get("unreadable_images", [])
        ignored = frame.attrs.get("ignored_files", 0)
        if ignored:
            notes.append(f"'{path}': ignored {ignored} file(s) in the class folders that are not images.")
    else:
        column = next((c for c in spec.feature_columns if c != label), None) or IMAGE_COLUMN
        base, unreadable = path.parent, []
        if column not in frame.columns:
            columns = ", ".join(map(str, frame.columns))
            raise UserError(f"'{path}' has no image path column '{column}'; columns are: {columns}")
    if label not in frame.columns:
        raise UserError(f"label column '{label}' is not in '{path}'; columns are: {', '.join(frame.columns)}")
    rows = []
    for value, y in zip(frame[column], frame[label], strict=True):
        if pd.isna(value) or pd.isna(y) or not str(y).strip() or not str(value).strip():
            continue
        file = Path(str(value).strip())
        rows.append({"source": str(file if file.is_absolute() else (base / file)), "label": str(y).strip()})
    out = pd.DataFrame(rows, columns=["source", "label"])
    out.attrs["given"] = len(frame) + len(unreadable)
    out.attrs["unreadable"] = list(unreadable)
    return out, notes


def _copy_images(sources: pd.DataFrame, images_dir: Path, name: str) -> tuple[pd.DataFrame, list[str]]:
    """Decode every source; save the normalised image as images_dir/<sha>.png; skip what fails."""
    import pandas as pd

    images_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    failed: list[tuple[str, str]] = [(str(f), str(why)) for f, why in sources.attrs.get("unreadable", [])]
    for source, label in zip(sources["source"], sources["label"], strict=True):
        if not Path(source).is_file():
            failed.append((source, "missing"))
            continue
        try:
            img = open_image(source)
        except ValueError as err:
            failed.append((source, str(err)))
            continue
        width, height, mode = img.width, img.height, img.mode
        norm = normalise(img)
        if max(norm.size) > STORE_MAX_SIDE:
            norm.thumbnail((STORE_MAX_SIDE, STORE_MAX_SIDE))
        digest = hashlib.sha256(f"{norm.mode}{norm.size}".encode() + norm.tobytes()).hexdigest()[:20]
        target = images_dir / f"{digest}.png"
        if not target.exists():
            norm.save(target, format="PNG")
        rows.append(
            {
                IMAGE_COLUMN: f"{images_dir.name}/{target.name}",
                "label": label,
                "width": width,
                "height": height,
                "mode": mode,
            }
        )
    given = sources.attrs.get("given", len(sources))
    if not rows:
        raise UserError(
            f"none of the {given} image file(s) in '{name}' could be decoded"
            + (f" (e.g. '{failed[0][0]}': {failed[0][1]})" if failed else "")
        )
    notes = []
    if failed:
        shown = "; ".join(f"{Path(f).name} ({why})" for f, why in failed[:SKIPPED_SHOWN])
        notes.append(
            f"'{name}': skipped {len(failed)} image file(s) that could not be read: {shown}"
            + (" ..." if len(failed) > SKIPPED_SHOWN else "")
            + "."
        )
    out = pd.DataFrame(rows)
    out.attrs["skipped"] = len(failed)
    return out, notes


def _dedupe(frame: pd.DataFrame, name: str, notes: list[str]) -> tuple[pd.DataFrame, int]:
    dup = frame.duplicated(subset=[IMAGE_COLUMN], keep="first")
    if not dup.any():
        return frame, 0
    conflicting = int((frame.groupby(IMAGE_COLUMN)["label"].nunique() > 1).sum())
    notes.append(
        f"'{name}': dropped {int(dup.sum())} duplicate image(s) (same pixels)"
        + (f"; {conflicting} of them carried more than one label, the first was kept" if conflicting else "")
        + "."
    )
    return frame[~dup], int(dup.sum())


def prepare_images(
    spec: TaskSpec,
    train_path: str | Path,
    test_path: str | Path | None,
    out_dir: str | Path,
    seed: int = 0,
    test_size: float = 0.2,
) -> DataReport:
    """Copy, check, dedupe and split the images for `spec`; write data/train.csv, data/test.csv
    (image path relative to data/, label, original width, height and mode) and data_card.md.

    Raises:
        UserError: no image decodes, a column is missing, or there are too few images or classes.
    """
    from trainer_agent.skills.data.data_split import label_counts_of, require_two_classes, split_rows

    out_dir = Path(out_dir)
    data_dir = out_dir / "data"
    label = spec.label_column or "label"
    train_name = str(train_path)
    notes: list[str] = []
    sources, found = _sources(spec, train_path, "label" if Path(train_path).is_dir() else label)
    notes += found
    train, copied = _copy_images(sources, data_dir / "images", train_name)
    notes += copied
    skipped = int(train.attrs.get("skipped", 0))
    train, duplicates = _dedupe(train, train_name, notes)
    test_from: Literal["user", "split"]
    if test_path is not None:
        test_name = str(test_path)
        test_sources, found = _sources(spec, test_path, "label" if Path(test_path).is_dir() else label)
        notes += found
        test, copied = _copy_images(test_sources, data_dir / "images", test_name)
        notes += copied
        test, _ = _dedupe(test, test_name, notes)
        leaked = train[IMAGE_COLUMN].isin(set(test[IMAGE_COLUMN]))
        if leaked.any():
            notes.append(
                f"'{train_name}': dropped {int(leaked.sum())} image(s) that also appear in the test set "
                "(train/test leakage)."
            )
            train = train[~leaked]
        require_two_classes(train, "label", train_name)
        test_from = "user"
        split_note = f"Test set: the user's images '{test_name}' ({len(test)} after cleaning)."
    else:
        require_two_classes(train, "label", train_name)
        train, test, split_note = split_rows(train, "label", True, train_name, seed, test_size)
        test_from = "split"
    notes.append(split_note)
    columns = [IMAGE_COLUMN, "label", "width", "height", "mode"]
    renamed = {"label": label}
    data_dir.mkdir(parents=True, exist_ok=True)
    train[columns].rename(columns=renamed).to_csv(data_dir / "train.csv", index=False)
    test[columns].rename(columns=renamed).to_csv(data_dir / "test.csv", index=False)
    given = int(sources.attrs.get("given", len(sources)))
    report = DataReport(
        train_path=str((data_dir / "train.csv").resolve()),
        test_path=str((data_dir / "test.csv").resolve()),
        test_from=test_from,
        n_train=len(train),
        n_test=len(test),
        columns=[IMAGE_COLUMN, label],
        label_column=label,
        text_column=None,
        feature_columns=[IMAGE_COLUMN],
        label_counts=label_counts_of(train, "label"),
        dropped_rows=max(0, given - len(train) - (len(test) if test_from == "split" else 0)),
        duplicate_rows=duplicates,
        notes=notes,
    )
    (out_dir / report.data_card).write_text(
        _card(report, spec, train, test, train_name, skipped), encoding="utf-8"
    )
    return report


# --- profile and card -------------------------------------------------------------------------


def image_profile(train: pd.DataFrame, test: pd.DataFrame, label: str) -> Any:
    """A `skills.data.profile.Profile` of prepared image data: classes, sizes, modes, leakage by pixels."""

    counts = train[label].astype(str).value_counts()
    prof = Profile(
        rows={"train": len(train), "test": len(test)},
        columns={
            IMAGE_COLUMN: {
                "dtype": "str",
                "missing": 0,
                "distinct": int(train[IMAGE_COLUMN].nunique()),
                "kind": "image",
            },
            label: {"dtype": "str", "missing": 0, "distinct": int(len(counts)), "kind": "label"},
        },
        label=label,
        text=None,
        label_counts={str(k): int(v) for k, v in counts.sort_index().items()},
    )
    if len(counts) >= 2:
        prof.imbalance_ratio = round(float(counts.max() / counts.min()), 3)
    leaked = int(train[IMAGE_COLUMN].isin(set(test[IMAGE_COLUMN])).sum())
    prof.duplicates = {"exact": 0, "same_input_normalized": 0, "train_rows_in_test": leaked}
    w, h = train["width"].astype("float64"), train["height"].astype("float64")
    modes = {str(k): int(v) for k, v in train["mode"].astype(str).value_counts().items()}
    prof.image_sizes = {
        "width_min": float(w.min()),
        "width_max": float(w.max()),
        "height_min": float(h.min()),
        "height_max": float(h.max()),
        "width_median": float(w.median()),
        "height_median": float(h.median()),
        "distinct_sizes": int(train[["width", "height"]].drop_duplicates().shape[0]),
    }
    prof.findings.append(
        f"{len(train):,} training images in {len(counts)} classes; sizes {w.min():.0f}-{w.max():.0f} x "
        f"{h.min():.0f}-{h.max():.0f} px (median {w.median():.0f} x {h.median():.0f}); modes "
        + ", ".join(f"{m} {n}" for m, n in modes.items())
        + "."
    )
    if prof.image_sizes["distinct_sizes"] > 1:
        prof.findings.append("Images come in several sizes; the model resizes them to one square size.")
    return prof


def _card(
    report: DataReport, spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame, name: str, skipped: int
) -> str:
    label = report.label_column
    lines = [
        "# Data card",
        "",
        f"- Task: {spec.task_type.value}",
        f"- Label column: `{label}`",
        f"- Images: `{IMAGE_COLUMN}` (paths relative to `data/`, copied from `{Path(name).resolve()}`)",
        "",
        "## Rows",
        "",
        "| set | images |",
        "|---|---|",
        f"| train | {report.n_train} |",
        f"| test ({report.test_from}) | {report.n_test} |",
        "",
        f"Images skipped (unreadable or missing): {skipped}; duplicates dropped: {report.duplicate_rows}.",
        "",
        "## Labels",
        "",
        "| class | train | test |",
        "|---|---|---|",
    ]
    tc, sc = train["label"].value_counts(), test["label"].value_counts()
    for c in sorted(set(tc.index) | set(sc.index)):
        lines.append(f"| `{c}` | {int(tc.get(c, 0))} | {int(sc.get(c, 0))} |")
    sizes = train.groupby(["width", "height"]).size().sort_values(ascending=False).head(5)
    lines += ["", "## Image sizes and modes (training set, as given)", "", "| size | images |", "|---|---|"]
    lines += [f"| {w} x {h} | {int(n)} |" for (w, h), n in sizes.items()]
    lines += ["", "| mode | images |", "|---|---|"]
    lines += [f"| {m} | {int(n)} |" for m, n in train["mode"].value_counts().items()]
    lines += ["", "## Cleaning and split", ""]
    lines += [f"- {n}" for n in report.notes] or ["- No changes were needed."]
    lines.append("")
    return "\n".join(lines)
