"""Holding out a test set (stratified where the classes allow) and the label checks it needs,
for tables, texts and images alike."""

from __future__ import annotations

import math

import pandas as pd

from trainer_agent.skills.errors import UserError


def require_two_classes(df: pd.DataFrame, label: str, name: str) -> None:
    classes = sorted(df[label].unique())
    if len(classes) < 2:
        only = f" ('{classes[0]}')" if classes else ""
        raise UserError(
            f"the label column '{label}' in '{name}' has only one class{only}; "
            "a classifier needs at least two"
        )


def split_rows(
    df: pd.DataFrame, label: str, classification: bool, name: str, seed: int, test_size: float
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    from sklearn.model_selection import train_test_split

    if len(df) < 2:
        raise UserError(f"'{name}' has only {len(df)} usable row; at least two are needed to hold one out")
    stratify = None
    why_not = ""
    if classification:
        counts = df[label].value_counts()
        n_test = math.ceil(test_size * len(df))
        if counts.min() < 2:
            rare = ", ".join(f"'{c}'" for c in counts[counts < 2].index)
            why_not = (
                f" (not stratified: {rare} {'has' if (counts < 2).sum() == 1 else 'have'} fewer than 2 rows)"
            )
        elif n_test < len(counts) or len(df) - n_test < len(counts):
            why_not = f" (not stratified: too few rows for {len(counts)} classes)"
        else:
            stratify = df[label]
    try:
        train, test = train_test_split(df, test_size=test_size, random_state=seed, stratify=stratify)
    except ValueError as err:
        raise UserError(
            f"'{name}' has too few usable rows ({len(df)}) to hold out a test set: {err}"
        ) from None
    kind = "a stratified" if stratify is not None else "a random"
    note = (
        f"Test set: {kind} {test_size:.0%} split of '{name}' with seed {seed}{why_not}: "
        f"{len(train)} train / {len(test)} test rows."
    )
    return train.sort_index(), test.sort_index(), note


def label_counts_of(df: pd.DataFrame, label: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in df[label].value_counts().sort_index().items()}
