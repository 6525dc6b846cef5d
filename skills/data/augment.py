"""Data augmentation for training data only: never for test data, which must stay as the person gave it.

    more = augment_text(train, text="review", label="score", per_row=1)     # originals + new rows
    more = augment_images(train, image="image", label="label", out_dir="runs/abc/data/augmented")

Text: token dropout, swaps of neighbouring tokens, and synonym replacement from a small table that
ships with the product (configs/synonyms.yaml); an LLM paraphrase goes through the same seam as
annotation (`complete(prompt) -> str`) when an LLM is configured. Images: flips, small rotations,
crops and brightness/contrast jitter with PIL and numpy; torchvision is not a dependency because
no build of it installs beside the CPU torch pinned here. New rows carry `augmented_from` (the
position of their source row; empty for originals).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from trainer_agent.skills.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

MARK = "augmented_from"
TEXT_METHODS = ("dropout", "swap", "synonym")
_TOKEN = re.compile(r"\S+")


@lru_cache(maxsize=1)
def synonyms() -> dict[str, list[str]]:
    import yaml

    text = resources.files("configs").joinpath("synonyms.yaml").read_text(encoding="utf-8")
    return {str(k).lower(): [str(v) for v in vs] for k, vs in (yaml.safe_load(text) or {}).items()}


def _refuse_test(df: pd.DataFrame, name: str | None) -> None:
    if name and re.search(r"(^|[\W_])test([\W_]|$)", Path(name).stem, re.IGNORECASE):
        raise UserError(f"'{name}' looks like test data; augmentation is for training data only")
    if MARK in df.columns and df[MARK].notna().any():
        raise UserError("this data already holds augmented rows; augment the original training data")


def augment_sentence(
    text: str, rng: random.Random, methods: tuple[str, ...] = TEXT_METHODS, p: float = 0.1
) -> str:
    """One variant of `text`: each method applied with rate `p` per token (at least one change)."""
    tokens = _TOKEN.findall(text)
    if len(tokens) < 2:
        return text
    table = synonyms()
    for method in methods:
        if method == "synonym":
            candidates = [i for i, t in enumerate(tokens) if t.lower().strip(".,!?;:") in table]
            for i in rng.sample(candidates, max(1 if candidates else 0, int(p * len(candidates)))):
                core = tokens[i].lower().strip(".,!?;:")
                tail = tokens[i][len(tokens[i].rstrip(".,!?;:")) :]
                choice = rng.choice(table[core])
                tokens[i] = (choice.capitalize() if tokens[i][:1].isupper() else choice) + tail
        elif method == "swap":
            for _ in range(max(1, int(p * len(tokens)))):
                i = rng.randrange(len(tokens) - 1)
                tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif method == "dropout":
            keep = [t for t in tokens if rng.random() >= p]
            tokens = keep if len(keep) >= max(1, len(tokens) // 2) else tokens
        else:
            raise UserError(f"unknown text augmentation '{method}'; choose from {', '.join(TEXT_METHODS)}")
    return " ".join(tokens)


def augment_text(
    train: pd.DataFrame,
    text: str,
    label: str | None = None,
    per_row: int = 1,
    methods: tuple[str, ...] = TEXT_METHODS,
    p: float = 0.1,
    seed: int = 0,
    source_name: str | None = None,
    paraphrase: Callable[[str], str] | None = None,
) -> pd.DataFrame:
    """The training rows plus `per_row` variants of each, marked in `augmented_from`.

    `paraphrase(prompt)`, when given (an LLM's `complete`), writes one extra variant per row.
    """
    import pandas as pd

    _refuse_test(train, source_name)
    if text not in train.columns:
        raise UserError(
            f"there is no text column '{text}'; columns are: {', '.join(map(str, train.columns))}"
        )
    rng = random.Random(seed)
    base = train.reset_index(drop=True)
    rows = []
    for position, row in base.iterrows():
        for _ in range(per_row):
            new = row.to_dict()
            new[text] = augment_sentence(str(row[text]), rng, methods, p)
            new[MARK] = position
            rows.append(new)
        if paraphrase is not None:
            new = row.to_dict()
            new[text] = paraphrase(
                "Paraphrase this text, keeping its meaning and tone; answer with the paraphrase only:\n"
                + str(row[text])
            ).strip()
            new[MARK] = position
            rows.append(new)
    out = pd.concat([base.assign(**{MARK: pd.NA}), pd.DataFrame(rows)], ignore_index=True)
    out[MARK] = out[MARK].astype("Int64")
    return out


def augment_image(path: str | Path, rng: random.Random) -> object:
    """One PIL variant of an image: maybe flipped, rotated up to 15 degrees, cropped to 85-100%,
    brightness and contrast jittered by up to 20%."""
    from PIL import Image, ImageEnhance, ImageOps

    with Image.open(path) as source:
        img = source.convert("RGB")
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    img = img.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
    w, h = img.size
    scale = rng.uniform(0.85, 1.0)
    cw, ch = max(1, int(w * scale)), max(1, int(h * scale))
    left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.crop((left, top, left + cw, top + ch)).resize((w, h), Image.Resampling.BILINEAR)
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
    return ImageEnhance.Contrast(img).enhance(rng.uniform(0.8, 1.2))


def augment_images(
    train: pd.DataFrame,
    image: str,
    out_dir: str | Path,
    per_row: int = 1,
    seed: int = 0,
    source_name: str | None = None,
) -> pd.DataFrame:
    """The training rows plus `per_row` transformed copies of each image, saved as PNG in `out_dir`."""
    import pandas as pd

    _refuse_test(train, source_name)
    rng = random.Random(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = train.reset_index(drop=True)
    rows = []
    for position, row in base.iterrows():
        for k in range(per_row):
            variant = augment_image(row[image], rng)
            target = out / f"{Path(str(row[image])).stem}_aug{position}_{k}.png"
            variant.save(target)  # type: ignore[attr-defined]
            new = row.to_dict()
            new[image] = str(target.resolve())
            new[MARK] = position
            rows.append(new)
    result = pd.concat([base.assign(**{MARK: pd.NA}), pd.DataFrame(rows)], ignore_index=True)
    result[MARK] = result[MARK].astype("Int64")
    return result
