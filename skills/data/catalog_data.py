"""Catalog data is an experiment: add a catalog data set's rows to training only when that wins on
the person's own labels and the person (or the policy) approves.

    found = compatible(Catalog(url).list(), features=["review"], label="score", classes=["great", "other"])
    trial, rows = try_entry(found[0], person_train, person_test, "score", "review", ["review"])
    if decide(trial, approve, n_train=len(person_train)): ...   # asked only when the trial passed
    trials, added = offer(train, test, "score", "review", ["review"], "run/data/train.csv", approve)

Steps:
1. Find (`compatible`): an entry is compatible when it holds the person's feature columns by name
   and its label column (whatever its name) holds at least two of the person's classes. The
   request's words do not matter: a compatible data set is found however the request is worded.
   Ranked by the share of the person's classes it covers, then its size.
2. Check the rows (`usable_rows`): the person's columns only, text normalised as the person's is,
   no empty text or label, only the person's classes, no duplicates, and no row whose input is one
   of the person's test rows (leakage into the score) or training rows (nothing new).
3. Trial (`try_entry`): k-fold (seeded, stratified) on the PERSON'S training rows: the
   class-balanced probe of `skills.data.label_errors` is fitted on the training folds alone and on
   the training folds plus every catalog row, and both score the held-out folds: the person's
   rows and labels, never a catalog row. Kept only when the catalog version scores higher in at
   least `WIN_SHARE` of the paired bootstrap resamples (the test of `skills.data.label_fixes`).
4. Ask (`decide`): `approve(kind, question)` with the rows, the source, the licence and the
   evidence; kind `catalog_data`, or `catalog_data_unlicensed` when the entry records no licence
   (which `--approve auto` refuses: using data whose terms nobody recorded is the person's call).
   A data set that failed the trial is not asked about, only reported.

The rows added go to the end of data/train.csv (the person's rows keep their row numbers, so
label corrections still fit) and are listed with their entry in data/catalog_rows.csv; the test
set is the person's alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainer_agent.skills.data.catalog import Entry, existing
from trainer_agent.skills.data.data_io import load_table
from trainer_agent.skills.data.label_errors import feature_matrix, probe_model
from trainer_agent.skills.data.label_fixes import BOOTSTRAP, WIN_SHARE, paired_win_share
from trainer_agent.skills.data.profile import blank_cells
from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import CatalogTrial

if TYPE_CHECKING:
    import pandas as pd

Approve = Callable[[str, str], Any]  # truthy when granted; a `Decision` also says who decided (`.by`)
FOLDS = 5
MAX_ENTRIES = 3  # compatible entries tried per run, best first
MAX_ROWS = 50_000  # catalog rows used at most (a seeded sample beyond): the trial stays seconds
METRIC = "balanced accuracy"
KIND = "catalog_data"
KIND_UNLICENSED = "catalog_data_unlicensed"
SOURCE_COLUMN = "catalog_entry"


def compatible(
    entries: Sequence[Entry], features: Sequence[str], label: str, classes: Sequence[str]
) -> list[Entry]:
    """The entries whose rows can train the person's model, best first (see the module docstring)."""
    ranked = []
    for e in entries:
        if e.kind == "unlabelled" or not all(f in e.columns for f in features):
            continue
        if not e.label_column or e.label_column not in e.columns:
            continue
        shared = set(map(str, classes)) & set(e.classes)
        if len(shared) < 2:
            continue
        ranked.append((len(shared) / max(1, len(set(classes))), e.rows or 0, e))
    ranked.sort(key=lambda t: (-t[0], -t[1], t[2].name))
    return [e for _, _, e in ranked]


def entry_label(entry: Entry, label: str) -> str:
    """The entry's column that holds the person's labels: its label column (the classes were read
    from it), else one of the same name."""
    return entry.label_column or label


def usable_rows(
    frame: pd.DataFrame,
    entry: Entry,
    train: pd.DataFrame,
    test: pd.DataFrame,
    label: str,
    text: str | None,
    features: Sequence[str],
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The entry's rows in the person's columns that may be added, and how many were left out why."""
    from trainer_agent.skills.data.data_prep import normalize_text, same_input

    classes = set(train[label].astype(str))
    rows = frame[[*features, entry_label(entry, label)]].copy()
    rows.columns = [*features, label]
    excluded: dict[str, int] = {}

    def drop(mask: Any, why: str) -> None:
        nonlocal rows
        n = int(mask.sum())
        if n:
            excluded[why] = excluded.get(why, 0) + n
            rows = rows[~mask]

    drop(blank_cells(rows[label]), "no label")
    rows[label] = rows[label].astype(str).str.strip()
    drop(~rows[label].isin(classes), "a label you do not use")
    if text:
        rows[text] = normalize_text(rows[text])
        drop(rows[text].isna() | rows[text].eq("").fillna(True), "empty text")
        rows[text] = rows[text].astype(str)
    key = list(features)
    drop(rows.duplicated(subset=key, keep="first"), "a duplicate within the catalog data")
    drop(same_input(rows, test, key), "the input of one of your test rows")
    drop(same_input(rows, train, key), "the input of one of your training rows")
    if len(rows) > MAX_ROWS:
        excluded[f"beyond {MAX_ROWS:,} rows (sampled)"] = len(rows) - MAX_ROWS
        rows = rows.sample(n=MAX_ROWS, random_state=seed)
    return rows.reset_index(drop=True), excluded


def try_entry(
    entry: Entry,
    train: pd.DataFrame,
    test: pd.DataFrame,
    label: str,
    text: str | None,
    features: Sequence[str],
    seed: int = 0,
    folds: int = FOLDS,
) -> tuple[CatalogTrial, pd.DataFrame]:
    """The trial of one entry (module docstring, steps 2-3) and the rows it would add.

    Raises:
        UserError: the entry's data cannot be read (the message names it)."""

    frame = load_table(entry.path)
    rows, excluded = usable_rows(frame, entry, train, test, label, text, features, seed)
    trial = CatalogTrial(
        name=entry.name,
        path=entry.path,
        source=entry.source,
        licence=entry.licence,
        rows=len(rows),
        excluded=excluded,
        metric=METRIC,
        folds=folds,
    )
    if rows.empty:
        trial.decision, trial.reason = "not tried", "no catalog row is left after the checks"
        return trial, rows
    score_trial(trial, train, rows, label, text, list(features), seed)
    return trial, rows


def score_trial(
    trial: CatalogTrial,
    train: pd.DataFrame,
    rows: pd.DataFrame,
    label: str,
    text: str | None,
    features: list[str],
    seed: int,
) -> None:
    """Fill `trial` with the out-of-fold balanced accuracy on the person's rows, without and with
    `rows` added to every fit, and the decision."""
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp
    from sklearn.model_selection import StratifiedKFold

    person = train[[*features, label]].reset_index(drop=True)
    person[label] = person[label].astype(str)
    both = pd.concat([person, rows[[*features, label]]], ignore_index=True)
    x_all = feature_matrix(both, label, text, features)
    n = len(person)
    x, x_more = x_all[:n], x_all[n:]
    y, y_more = person[label].to_numpy(), rows[label].astype(str).to_numpy()
    classes = sorted(set(y))
    folds = max(2, min(trial.folds, int(min((y == c).sum() for c in classes))))
    stack = sp.vstack if sp.issparse(x) else np.vstack
    index = {c: i for i, c in enumerate(classes)}
    given = np.array([index[v] for v in y])
    pred_without = np.zeros(n, dtype=int)
    pred_with = np.zeros(n, dtype=int)
    for fit, held in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        for extra, out in (((None, None), pred_without), ((x_more, y_more), pred_with)):
            model = probe_model(bool(text), len(classes), balanced=True)
            if extra[0] is None:
                model.fit(x[fit], y[fit])
            else:
                model.fit(stack([x[fit], extra[0]]), np.concatenate([y[fit], extra[1]]))
            out[held] = [index[str(c)] for c in model.predict(x[held])]
    counts = np.bincount(given, minlength=len(classes))
    weight = n / (len(classes) * counts[given])  # row weights that turn accuracy into balanced accuracy
    right_without, right_with = pred_without == given, pred_with == given
    without = float((weight * right_without).mean())
    with_ = float((weight * right_with).mean())
    wins = paired_win_share(weight * (right_with.astype(float) - right_without.astype(float)), seed)
    trial.folds = folds
    trial.without, trial.with_catalog = round(without, 4), round(with_, 4)
    trial.gain, trial.wins = round(with_ - without, 4), round(wins, 3)
    trial.passed = with_ > without and wins >= WIN_SHARE
    if trial.passed:
        trial.decision = "passed the check"
        trial.reason = (
            f"with the catalog rows it wins in {wins:.0%} of {BOOTSTRAP} paired bootstrap resamples"
        )
    elif with_ <= without:
        trial.decision = "rejected by the check"
        trial.reason = "with the catalog rows the model does not score higher on your rows"
    else:
        trial.decision = "rejected by the check"
        trial.reason = (
            f"the gain is within the noise: higher in only {wins:.0%} of {BOOTSTRAP} paired bootstrap "
            f"resamples (needs {WIN_SHARE:.0%})"
        )


def licensed(trial: CatalogTrial) -> bool:
    """Whether the entry records a licence (any recorded text except 'unknown' and the like)."""
    return trial.licence.strip().lower() not in ("", "unknown", "none", "?", "n/a")


def question(trial: CatalogTrial, n_train: int) -> str:
    """What the person reads before approving: the data, where it is from, its licence, the evidence."""
    left_out = "; ".join(f"{n} as {why}" for why, n in trial.excluded.items())
    return (
        f"add {trial.rows:,} rows of the catalog data set '{trial.name}' to your {n_train:,} training rows "
        f"(source: {trial.source or 'not recorded'}; licence: {trial.licence or 'not recorded'}; "
        f"{trial.path}). Expected gain, {trial.folds}-fold {trial.metric} on your own rows and labels: "
        f"{trial.without:.4f} without, {trial.with_catalog:.4f} with ({trial.gain:+.4f}; {trial.reason})."
        + (f" Left out: {left_out}." if left_out else "")
        + " Your test set is unchanged; the rows added are listed in data/catalog_rows.csv"
    )


def decide(trial: CatalogTrial, approve: Approve | None, n_train: int) -> bool:
    """Ask about a trial that passed (`approve(kind, question)`); record the answer on `trial`."""
    if not trial.passed:
        return False
    if approve is None:
        trial.decision = "not merged (no one to approve)"
        return False
    answer = approve(KIND if licensed(trial) else KIND_UNLICENSED, question(trial, n_train))
    trial.by = str(getattr(answer, "by", "") or "")
    trial.decision = "merged" if answer else "not approved"
    return bool(answer)


def summary(trial: CatalogTrial) -> str:
    """One sentence for the findings, the card and the chat."""
    scores = (
        f"{trial.folds}-fold {trial.metric} on your rows {trial.without:.4f} without, "
        f"{trial.with_catalog:.4f} with ({trial.gain:+.4f})"
    )
    by = f" by {trial.by}" if trial.by else ""
    where = f"source {trial.source or 'not recorded'}, licence {trial.licence or 'not recorded'}"
    if trial.decision == "not tried":
        return f"Catalog data '{trial.name}' ({where}): not tried, {trial.reason}."
    if trial.decision == "merged":
        return f"Catalog data '{trial.name}' ({where}): {trial.rows:,} rows added to training{by}: {scores}."
    return (
        f"Catalog data '{trial.name}' ({where}, {trial.rows:,} usable rows): {trial.decision}{by}: {scores}; "
        f"{trial.reason}."
    )


def offer(
    train: pd.DataFrame,
    test: pd.DataFrame,
    label: str,
    text: str | None,
    features: Sequence[str],
    train_path: str,
    approve: Approve | None,
    url: str | None = None,
    names: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[list[CatalogTrial], int]:
    """Try the compatible catalog entries (or those `names`d: [] tries none), ask about each that
    passed, and append the approved rows to `train_path` (the person's prepared training file);
    the trials and the number of rows added. No catalog: nothing (one is never created)."""
    import pandas as pd

    if names is not None and not names:
        return [], 0
    catalog = existing(url)
    if catalog is None:
        return [], 0
    try:
        entries = catalog.list()
    except Exception:  # an unreachable shared catalog must not stop the run
        return [], 0
    classes = sorted(set(train[label].astype(str)))
    fits = compatible(entries, features, label, classes)
    trials: list[CatalogTrial] = []
    if names is None:
        chosen = fits[:MAX_ENTRIES]
    else:
        known = {e.name: e for e in entries}
        chosen = [known[n] for n in names if n in known and known[n] in fits]
        for n in names:
            if n not in known or known[n] not in fits:
                why = "not in the catalog" if n not in known else "its columns or labels do not fit your data"
                trials.append(CatalogTrial(name=n, path="", rows=0, decision="not tried", reason=why))
    added = []
    n_train = len(train)
    for entry in chosen:
        try:
            trial, rows = try_entry(entry, train, test, label, text, features, seed)
        except UserError as err:
            trials.append(
                CatalogTrial(name=entry.name, path=entry.path, rows=0, decision="not tried", reason=str(err))
            )
            continue
        trials.append(trial)
        if decide(trial, approve, n_train):
            added.append(rows.assign(**{SOURCE_COLUMN: entry.name}))
    if not added:
        return trials, 0
    new = pd.concat(added, ignore_index=True)
    new = new[~new.duplicated(subset=list(features), keep="first")]  # two entries may share rows
    # appended, not rewritten: the person's rows stay byte for byte (and keep their row numbers)
    header = list(pd.read_csv(train_path, nrows=0).columns)
    new.reindex(columns=header).to_csv(train_path, mode="a", header=False, index=False)
    listing = new.assign(row=range(n_train, n_train + len(new)))[["row", SOURCE_COLUMN, *features, label]]
    listing.to_csv(Path(train_path).with_name("catalog_rows.csv"), index=False)
    return trials, len(new)


def choose(
    data_path: str, task_type: str, label: str | None, features: Sequence[str], url: str | None = None
) -> list[str] | None:
    """The entries a planner would try for a person's data file (`compatible`, best first, at most
    `MAX_ENTRIES`); None when there is no catalog or the task takes no catalog rows (regression,
    images), so a run without a catalog shows no such decision."""

    if task_type not in ("text_classification", "tabular_classification") or not label:
        return None
    catalog = existing(url)
    if catalog is None:
        return None
    try:
        entries = catalog.list()
        frame = load_table(data_path)
    except Exception:  # an unreadable catalog or file: the Data agent's step says why, not the plan
        return None
    if label not in frame.columns:
        return None
    values = frame[label].dropna().astype(str).str.strip()
    columns = list(features) or [str(c) for c in frame.columns if c != label]
    return [e.name for e in compatible(entries, columns, label, sorted(set(values) - {""}))[:MAX_ENTRIES]]
