"""`trainer-agent data ...`: the Data agent's skills from the command line.

    trainer-agent data add reviews.csv --name reviews --description "fine-food reviews, great/other"
    trainer-agent data list
    trainer-agent data search "food review sentiment"
    trainer-agent data profile reviews.csv --label score --text review --out profile/
    trainer-agent data label-errors reviews.csv --label score --text review --apply --out fixed.csv
    trainer-agent data sufficiency reviews.csv --label score --text review
    trainer-agent data annotate pool.csv --labelled reviews.csv --label score --text review --out labelled.csv
    trainer-agent data augment reviews.csv --text review --out bigger.csv
    trainer-agent data reduce digits.csv --label target --out reduced.csv
    trainer-agent data plots reviews.csv --label score --text review --out plots/

Input files are only read; results go to the --out paths. Exit codes as for `run`: 1 bad input,
2 more input needed (e.g. too little labelled data).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import pandas as pd

    from trainer_agent.skills.specs import TaskSpec

app = typer.Typer(
    help="Find, check, clean, fix, annotate, augment, reduce and plot data; keep a catalog of datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

CatalogOpt = Annotated[
    str | None,
    typer.Option(
        "--catalog", help="Catalog URL (default: sqlite in $TRAINER_AGENT_HOME or ~/.trainer-agent)."
    ),
]
LabelOpt = Annotated[str | None, typer.Option("--label", help="The label column.")]
TextOpt = Annotated[str | None, typer.Option("--text", help="The text column (text data).")]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", help="Text encoding of the file (default UTF-8).")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]


def _echo(text: str) -> None:
    typer.echo(text)


@contextmanager
def _user_errors() -> Iterator[None]:
    """A UserError becomes one line on stderr and its exit code (2 when input is needed)."""
    from trainer_agent.skills.errors import UserError

    try:
        yield
    except UserError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(err.exit_code) from None


def _load(path: str, encoding: str | None = None) -> pd.DataFrame:
    from trainer_agent.skills.data.data_io import load_table

    return load_table(path, encoding=encoding)


def _need(df: pd.DataFrame, column: str | None, what: str, path: str) -> str:
    from trainer_agent.skills.errors import UserError

    if column is None:
        raise UserError(
            f"give the {what} column with --{what}; columns of '{path}' are: {', '.join(df.columns)}"
        )
    if column not in df.columns:
        raise UserError(f"{what} column '{column}' is not in '{path}'; columns are: {', '.join(df.columns)}")
    return column


def _task_spec(df: pd.DataFrame, label: str | None, text: str | None, request: str = "") -> TaskSpec:
    """Text classification with a text column; else classification, unless the label is a
    many-valued number (regression)."""
    import pandas as pd

    from trainer_agent.skills.specs import TaskSpec, TaskType

    if text:
        task = TaskType.TEXT_CLASSIFICATION
    elif label and pd.api.types.is_float_dtype(df[label]) and df[label].nunique() > 20:
        task = TaskType.TABULAR_REGRESSION
    elif "image" in df.columns:
        task = TaskType.IMAGE_CLASSIFICATION
    else:
        task = TaskType.TABULAR_CLASSIFICATION
    return TaskSpec(request=request or "data command", task_type=task, label_column=label, text_column=text)


def _approver(yes: bool) -> Callable[[str, str], bool]:
    def approve(kind: str, description: str) -> bool:
        if yes:
            return True
        if sys.stdin is None or not sys.stdin.isatty():
            typer.echo(f"not approved (no terminal to ask; pass --yes): {description}", err=True)
            return False
        return typer.confirm(f"Approve: {description}?", default=False)

    return approve


# --- catalog -------------------------------------------------------------------------------


@app.command()
def add(
    path: Annotated[str, typer.Argument(help="Data file, folder, 'file.db#table' or database URL.")],
    name: Annotated[str, typer.Option("--name", help="A short unique name.")],
    description: Annotated[str, typer.Option("--description", help="What the data is, in words.")] = "",
    label: LabelOpt = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace an entry of the same name.")] = False,
    catalog: CatalogOpt = None,
    source: Annotated[
        str, typer.Option("--source", help="Where the data came from (URL, team, paper); shown before use.")
    ] = "",
    licence: Annotated[
        str,
        typer.Option(
            "--licence",
            "--license",
            help="Its licence (e.g. MIT, CC-BY-4.0, internal); without one, --approve auto never adds it.",
        ),
    ] = "",
) -> None:
    """Add a dataset to the catalog (it is read once, to record its columns, rows and labels)."""
    from trainer_agent.skills.data.catalog import Catalog

    with _user_errors():
        entry = Catalog(catalog).add(
            path, name, description, label=label, replace=replace, source=source, licence=licence
        )
    _echo(
        f"added '{entry.name}': {entry.rows} rows, {entry.kind}, columns {', '.join(entry.columns)}; "
        f"source {entry.source or 'not recorded'}, licence {entry.licence or 'not recorded'}"
    )


@app.command("list")
def list_(catalog: CatalogOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the datasets in the catalog."""

    from trainer_agent.skills.data.catalog import Catalog

    with _user_errors():
        entries = Catalog(catalog).list()
    if as_json:
        _echo(json.dumps([asdict(e) for e in entries], indent=2))
        return
    if not entries:
        _echo("the catalog is empty; add data with: trainer-agent data add PATH --name N --description D")
    for e in entries:
        _echo(f"{e.name}\t{e.kind}\t{e.rows} rows\t{e.path}\t{e.description}\tlicence: {e.licence or '-'}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words describing the data you need.")],
    limit: Annotated[int, typer.Option("--limit")] = 10,
    catalog: CatalogOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search the catalog by words; best matches first, with a relevance score."""

    from trainer_agent.skills.data.catalog import Catalog

    with _user_errors():
        hits = Catalog(catalog).search(query, limit=limit)
    if as_json:
        _echo(json.dumps([asdict(h) for h in hits], indent=2))
        return
    if not hits:
        _echo("nothing in the catalog matches")
    for h in hits:
        _echo(f"{h.score:.2f}\t{h.name}\t{h.kind}\t{h.rows} rows\t{h.path}\t{h.description}")


@app.command()
def remove(name: Annotated[str, typer.Argument()], catalog: CatalogOpt = None) -> None:
    """Remove a dataset from the catalog (its files are not touched)."""
    from trainer_agent.skills.data.catalog import Catalog

    with _user_errors():
        removed = Catalog(catalog).remove(name)
    _echo(f"removed '{name}'" if removed else f"the catalog has no dataset named '{name}'")
    if not removed:
        raise typer.Exit(1)


# --- checks --------------------------------------------------------------------------------


@app.command()
def profile(
    path: Annotated[str, typer.Argument(help="The data to profile.")],
    label: LabelOpt = None,
    text: TextOpt = None,
    test: Annotated[str | None, typer.Option("--test", help="Test data, to look for leakage.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for profile.json and plots.")] = None,
    encoding: EncodingOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Profile data: column kinds, labels, duplicates, leakage, lengths, outliers, suspicious columns."""
    from trainer_agent.skills.data.plots import make_plots
    from trainer_agent.skills.data.profile import profile_data

    with _user_errors():
        df = _load(path, encoding)
        test_df = _load(test, encoding) if test else None
        if label is not None:
            _need(df, label, "label", path)
        if text is not None:
            _need(df, text, "text", path)
        spec = _task_spec(df, label, text)
        classification = spec.task_type.value != "tabular_regression"
        prof = profile_data(df, test_df, label, text, classification=classification, seed=seed)
        _echo(
            f"{len(df)} rows, {len(df.columns)} columns"
            + (f"; test {len(test_df)} rows" if test_df is not None else "")
        )
        for name, info in prof.columns.items():
            kind = f"{info['kind']} ({info['dtype']})"
            _echo(f"  {name}: {kind}, {info['missing']} missing, {info['distinct']} distinct")
        if prof.label_counts:
            _echo("labels: " + ", ".join(f"{k} {v}" for k, v in prof.label_counts.items()))
        for finding in prof.findings or ["nothing suspicious was found"]:
            _echo(f"- {finding}")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            (out / "profile.json").write_text(
                json.dumps(prof.to_dict(), indent=2, default=str), encoding="utf-8"
            )
            plots = make_plots(df, test_df, out, label, text, None, classification, raw=df, seed=seed)
            _echo(f"wrote {out / 'profile.json'} and {len(plots)} plots in {out}")


@app.command("label-errors")
def label_errors(
    path: Annotated[str, typer.Argument(help="Labelled data.")],
    label: LabelOpt = None,
    text: TextOpt = None,
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", help="Relabel only suspects at least this confident.")
    ] = 0.9,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Write a corrected copy to --out: only if the corrections win their trial on your "
            "own labels (asks first).",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Approve the corrections without asking.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Corrected copy (with --apply), else the list.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Suspects to print.")] = 20,
    encoding: EncodingOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Find likely mislabelled rows (confident learning); with --apply, write a corrected copy when
    the corrections win their trial (out-of-fold, scored on the labels as given)."""
    import pandas as pd

    from trainer_agent.skills.data.label_errors import find_label_errors
    from trainer_agent.skills.data.label_fixes import corrected_labels, fix_labels, summary
    from trainer_agent.skills.errors import UserError

    with _user_errors():
        df = _load(path, encoding)
        label = _need(df, label, "label", path)
        if text is not None:
            _need(df, text, "text", path)
        df = df[df[label].notna()].reset_index(drop=True)
        df[label] = df[label].astype(str)
        found = find_label_errors(df, label, text, seed=seed)
        if found.skipped:
            raise UserError(f"cannot check the labels of '{path}': {found.skipped}")
        _echo(
            f"{len(found.issues)} of {found.n_checked} rows look mislabelled "
            f"(out-of-fold accuracy {found.oof_accuracy:.1%}); most confident first:"
        )
        for i in found.issues[:limit]:
            _echo(f"  row {i.row}: '{i.given}' -> '{i.suggested}' ({i.confidence:.2f}) {i.preview[:60]}")
        if apply:
            if out is None:
                raise UserError(
                    "--apply needs --out FILE for the corrected copy; the input file is never changed"
                )
            fix = fix_labels(df, label, found.issues, _approver(yes), text, None, min_confidence, seed)
            fixed = df.copy()
            fixed[label] = corrected_labels(df[label], fix.applied)
            fixed.to_csv(out, index=False)
            _echo(summary(fix))
            _echo(f"relabelled {len(fix.applied)} rows; wrote {out}")
        elif out is not None:
            pd.DataFrame([i.model_dump() for i in found.issues]).to_csv(out, index=False)
            _echo(f"wrote the suspects to {out}")


@app.command()
def sufficiency(
    path: Annotated[str, typer.Argument(help="Labelled data.")],
    label: LabelOpt = None,
    text: TextOpt = None,
    target: Annotated[float | None, typer.Option("--target", help="Accuracy you need, e.g. 0.9.")] = None,
    encoding: EncodingOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Is there enough labelled data? Exit 2 with how many more rows are needed, and why, if not
    (with --target: if a quick probe model's learning curve does not reach it on these rows)."""
    from trainer_agent.skills.data.sufficiency import check_sufficiency, learning_curve, require_sufficient
    from trainer_agent.skills.errors import NeedsInput

    with _user_errors():
        df = _load(path, encoding)
        label = _need(df, label, "label", path)
        df = df[df[label].notna()].reset_index(drop=True)
        spec = _task_spec(df, label, text)
        if target is not None:
            from trainer_agent.skills.specs import Requirement

            spec.requirements.append(Requirement(name="accuracy", op=">=", target=target))
        counts = {str(k): int(v) for k, v in df[label].astype(str).value_counts().items()}
        suff = check_sufficiency(spec, counts, n_rows=len(df))
        require_sufficient(suff)
        estimate = None
        if target is not None and spec.task_type.value != "tabular_regression":
            estimate = learning_curve(df.astype({label: str}), label, target, text, seed=seed)
        if estimate is not None and not estimate.reached:
            more = "better data"
            if estimate.rows_needed:
                more = f"{estimate.more_rows(len(df))} more labelled rows"
            raise NeedsInput(
                f"every class has enough rows to train, but not yet for accuracy {target:.2f}: "
                f"{estimate.text}; it needs {more}, or a stronger model than the probe."
            )
        _echo(f"enough labelled data: {suff.reason}")
        if estimate is not None:
            _echo(f"learning curve: {estimate.text}")


# --- changes to data (written to new files) ------------------------------------------------


@app.command()
def annotate(
    pool: Annotated[str, typer.Argument(help="Unlabelled rows to annotate.")],
    out: Annotated[Path, typer.Option("--out", help="Annotated rows, marked, with set-aside rows last.")],
    labelled: Annotated[
        str | None, typer.Option("--labelled", help="Labelled rows (the teacher's training data).")
    ] = None,
    label: LabelOpt = None,
    text: TextOpt = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            "--min-confidence",
            min=0.0,
            max=1.0,
            help="Keep labels at least this confident (teacher default 0.9, LLM 0.7); 0 keeps every row.",
        ),
    ] = None,
    llm: Annotated[
        str | None,
        typer.Option("--llm", help="Label with an LLM instead of a teacher: openai or config:PATH (paid)."),
    ] = None,
    classes: Annotated[
        str | None, typer.Option("--classes", help="Comma-separated classes for --llm without --labelled.")
    ] = None,
    max_calls: Annotated[int, typer.Option("--max-calls", min=1, help="At most this many LLM calls.")] = 50,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows per LLM call.")] = 20,
    approve: Annotated[
        str, typer.Option("--approve", help="Approval of the paid LLM calls: ask, auto, never, policy, FILE.")
    ] = "ask",
    encoding: EncodingOpt = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check/--no-check",
            help="Keep the teacher's labels only when they improve a model in cross-validation on "
            "your labels (default); --no-check keeps every confident one.",
        ),
    ] = True,
    seed: SeedOpt = 0,
) -> None:
    """Label an unlabelled pool with a teacher model (or, with --llm, a paid LLM after approval);
    low-confidence rows are set aside for a person."""
    from trainer_agent.skills.data.annotate import annotate_with_teacher
    from trainer_agent.skills.errors import UserError

    with _user_errors():
        lab = None
        if labelled is not None:
            lab = _load(labelled, encoding)
            label = _need(lab, label, "label", labelled)
            lab = lab[lab[label].notna()].reset_index(drop=True)
        elif llm is None:
            raise UserError("--labelled is needed to train the teacher (or label with an LLM: --llm).")
        pool_df = _load(pool, encoding)
        if llm is not None:
            result = _annotate_with_llm(
                pool_df, lab, label, text, classes, llm, min_confidence, max_calls, batch_size, approve
            )
        else:
            assert lab is not None and label is not None and labelled is not None
            text = _text_or_guess(lab, pool_df, label, text, labelled)
            result = annotate_with_teacher(
                lab,
                pool_df,
                label,
                text,
                min_confidence=0.9 if min_confidence is None else min_confidence,
                seed=seed,
                check=check,
            )
        result.combined().to_csv(out, index=False)
        for note in result.notes:
            _echo(note)
        _echo(f"wrote {out} (column annotated_by marks every annotated row)")


def _text_or_guess(
    lab: pd.DataFrame, pool_df: pd.DataFrame, label: str, text: str | None, labelled: str
) -> str | None:
    """The teacher's text column: --text, else the one free-text column both files share (said);
    None for a table of features."""
    from trainer_agent.skills.errors import UserError
    from trainer_agent.skills.task.task_infer import is_text_column

    if text is not None:
        for df, name in ((lab, labelled), (pool_df, "the pool")):
            _need(df, text, "text", name)
        return text
    found = [c for c in lab.columns if c != label and c in pool_df.columns and is_text_column(lab[c])]
    if len(found) == 1:
        _echo(f"the text column is '{found[0]}' (the only free text in both files; --text chooses another)")
        return str(found[0])
    if len(found) > 1:
        raise UserError(
            f"'{labelled}' has {len(found)} free-text columns ({', '.join(map(str, found))}); "
            "name the one to learn from with --text."
        )
    return None


def _annotate_with_llm(
    pool_df: pd.DataFrame,
    lab: pd.DataFrame | None,
    label: str | None,
    text: str | None,
    classes: str | None,
    llm: str,
    min_confidence: float | None,
    max_calls: int,
    batch_size: int,
    approve: str,
) -> Any:
    """`data annotate --llm`: the classes, the `paid_annotation` approval, then the LLM calls."""

    from trainer_agent.agents.approvals import ask_here
    from trainer_agent.agents.llm_complete import Completer
    from trainer_agent.agents.llm_config import settings_for
    from trainer_agent.skills.data.annotate import annotate_with_llm
    from trainer_agent.skills.errors import NotApproved, UserError

    if classes:
        names = [c.strip() for c in classes.split(",") if c.strip()]
    elif lab is not None and label is not None:
        names = sorted({str(v) for v in lab[label]})
    else:
        raise UserError("--llm needs the classes: --classes a,b,c or --labelled with a label column.")
    if text is None or text not in pool_df.columns:
        raise UserError(
            "--llm needs the pool's text column (--text); the pool's columns are: "
            f"{', '.join(map(str, pool_df.columns))}."
        )
    settings = settings_for(llm).for_agent("data_agent")
    calls = min(max_calls, math.ceil(len(pool_df) / batch_size))
    price = (
        f", priced {settings.price[0]:g}/{settings.price[1]:g} USD per 1k tokens" if settings.price else ""
    )
    what = (
        f"send {min(len(pool_df), calls * batch_size):,} rows' text to {settings.where()} in up to {calls} "
        f"calls{price}"
    )
    decision = ask_here(approve, "paid_annotation", what)
    if not decision.granted:
        raise NotApproved(f"not approved: {what} ({decision.by}).")
    _echo(f"paid annotation approved ({decision.by}): {what}")
    complete = Completer(settings)
    result = annotate_with_llm(
        pool_df,
        text,
        names,
        complete,
        label=label or "label",
        min_confidence=0.7 if min_confidence is None else min_confidence,
        batch_size=batch_size,
        max_calls=max_calls,
    )
    u = complete.usage
    cost = f", about {u['cost_usd']:.4f} USD" if settings.price else ""
    result.notes.append(
        f"LLM usage: {u['calls']} calls, {u['prompt_tokens']:,} prompt and {u['completion_tokens']:,} "
        f"completion tokens{cost}."
    )
    return result


@app.command()
def augment(
    path: Annotated[str, typer.Argument(help="Training data (never test data).")],
    out: Annotated[Path, typer.Option("--out", help="Originals plus new rows, marked in augmented_from.")],
    text: TextOpt = None,
    image: Annotated[str | None, typer.Option("--image", help="Image path column (image data).")] = None,
    images_out: Annotated[Path | None, typer.Option("--images-out", help="Folder for new images.")] = None,
    per_row: Annotated[int, typer.Option("--per-row", help="New rows per original.")] = 1,
    encoding: EncodingOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Augment training data: text (dropout, swap, synonyms) or images (flip, rotate, crop, jitter)."""
    from trainer_agent.skills.data.augment import augment_images, augment_text
    from trainer_agent.skills.errors import UserError

    with _user_errors():
        df = _load(path, encoding)
        if image:
            _need(df, image, "image", path)
            more = augment_images(
                df, image, images_out or out.with_suffix(""), per_row, seed, source_name=path
            )
        elif text:
            _need(df, text, "text", path)
            more = augment_text(df, text, per_row=per_row, seed=seed, source_name=path)
        else:
            raise UserError("give the column to augment: --text COLUMN or --image COLUMN")
        more.to_csv(out, index=False)
        _echo(f"{len(df)} rows + {len(more) - len(df)} augmented rows; wrote {out}")


@app.command()
def reduce(
    path: Annotated[str, typer.Argument(help="The data.")],
    label: LabelOpt = None,
    text: TextOpt = None,
    variance: Annotated[float, typer.Option("--variance", help="Share of variance to keep.")] = 0.95,
    out: Annotated[Path | None, typer.Option("--out", help="Write the projected data here.")] = None,
    encoding: EncodingOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Drop constant, duplicate and id-like columns; measure PCA / TruncatedSVD and its effect."""
    from trainer_agent.skills.data.reduce import describe, project, reduce_dimensions, select_columns

    with _user_errors():
        df = _load(path, encoding)
        if label is not None:
            _need(df, label, "label", path)
        kept, dropped = select_columns(df, label, text=text)
        for column, why in dropped.items():
            _echo(f"drop '{column}': {why}")
        spec = _task_spec(df, label, text)
        classification = spec.task_type.value != "tabular_regression"
        effect = reduce_dimensions(df, label, text, kept, variance, classification=classification, seed=seed)
        _echo(describe(effect))
        if out is not None:
            project(df, label, effect["components"], text, kept, seed).to_csv(out, index=False)
            _echo(f"wrote {effect['components']} components to {out}")


@app.command()
def plots(
    path: Annotated[str, typer.Argument(help="The data.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNG files.")],
    label: LabelOpt = None,
    text: TextOpt = None,
    encoding: EncodingOpt = None,
    seed: SeedOpt = 0,
) -> None:
    """Draw the label distribution, text lengths or image samples, a 2-D projection, missing values."""
    from trainer_agent.skills.data.plots import make_plots

    with _user_errors():
        df = _load(path, encoding)
        if label is not None:
            _need(df, label, "label", path)
        spec = _task_spec(df, label, text)
        written = make_plots(
            df, None, out, label, text, None, spec.task_type.value != "tabular_regression", raw=df, seed=seed
        )
    for p in written:
        _echo(p)
