"""The Data agent's whole step: prepare, profile, check sufficiency, find (and, if approved, fix)
label errors, try catalog data (and, if it wins and is approved, add it), select features, plot,
and describe it all in data_card.md and data_report.html.

    report = run_data_stage(spec, "train.csv", "test.csv", "runs/abc", approve=lambda kind, what: True)

Writes under the run directory: data/train.csv and data/test.csv (what the Model agent trains
and tests on, with the person's labels), data/profile.json, data/label_issues.csv (every
suspect), data/label_corrections.csv (the corrections applied: only those that won their trial
on the person's own labels and were approved, `skills.data.label_fixes`; the Model agent fits on them
and scores on the person's labels), data/catalog_rows.csv (the rows added to the end of
data/train.csv from the catalog: only data that won its trial on the person's own rows and was
approved, `skills.data.catalog_data`; data/test.csv never gets any), plots/*.png, data_card.md
and data_report.html. Heavy checks are skipped on large data and the card says which. With too
little labelled data, `DataReport.questions` says how many more rows are needed and why;
`needs_more_data` turns that into the Task agent's decision to ask.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainer_agent.skills.data.catalog import existing
from trainer_agent.skills.data.catalog_data import offer
from trainer_agent.skills.data.catalog_data import summary as catalog_summary
from trainer_agent.skills.data.data_io import load_table
from trainer_agent.skills.data.image_data import IMAGE_COLUMN, image_profile
from trainer_agent.skills.data.label_errors import find_label_errors
from trainer_agent.skills.data.label_fixes import MIN_CONFIDENCE, fix_labels, summary
from trainer_agent.skills.data.plots import make_plots
from trainer_agent.skills.data.profile import profile_data
from trainer_agent.skills.data.reduce import WIDE, describe, reduce_dimensions, select_columns
from trainer_agent.skills.data.sufficiency import ask_for_more, check_sufficiency, learning_curve_estimate
from trainer_agent.skills.markdown_safe import md_text as md
from trainer_agent.skills.specs import DataReport, TaskSpec, TaskType

Approve = Callable[[str, str], Any]  # truthy when granted (`agents.approvals.Decision` says by whom)
MAX_ISSUES_IN_REPORT = 20  # the full list is in data/label_issues.csv
LEARNING_CURVE_MAX_ROWS = 20_000


def run_data_stage(
    spec: TaskSpec,
    train_path: str | Path,
    test_path: str | Path | None,
    run_dir: str | Path,
    seed: int = 0,
    approve: Approve | None = None,
    relabel_min_confidence: float | None = None,
    catalog_url: str | None = None,
    test_fraction: float = 0.2,
    unlabelled_path: str | Path | None = None,
    use_catalog: list[str] | None = None,
) -> DataReport:
    """Run every data skill for `spec` and return the DataReport the Model agent trains from.

    Args:
        approve: asked `(kind, description)` before label corrections that passed their trial are
            applied (`skills.data.label_fixes`); None never applies.
        relabel_min_confidence: only suspects at least this confident are proposed for relabelling
            (default `skills.data.label_fixes.MIN_CONFIDENCE`).
        catalog_url: the dataset catalog to search for related data (default: the local one, if any).
        test_fraction: the share held out as the test set when no test file was given.
        unlabelled_path: a file of unlabelled rows, added to the pool (`skills.data.data_prep`).
        use_catalog: catalog entries to try adding to the training data (`approve` is asked, kind
            `catalog_data`, for each that wins its trial); None: the compatible ones; []: none.
    """
    from trainer_agent.skills.data.data_prep import prepare_data

    run_dir = Path(run_dir)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    report = prepare_data(
        spec,
        train_path,
        test_path,
        run_dir,
        seed=seed,
        test_size=test_fraction,
        unlabelled_path=unlabelled_path,
    )
    lap("prepare")
    task = TaskType(spec.task_type)
    classification = task != TaskType.TABULAR_REGRESSION
    label, text = report.label_column, report.text_column
    train = load_table(report.train_path)
    test = load_table(report.test_path)
    if classification:
        train[label] = train[label].astype(str)
        test[label] = test[label].astype(str)
    findings: list[str] = list(report.findings)  # what preparing the data found (also in its notes)
    skipped: list[str] = []
    extra: dict[str, Any] = {}

    image = task == TaskType.IMAGE_CLASSIFICATION
    if image:  # image paths are relative to data/; the plots open them from anywhere
        for frame, csv in ((train, report.train_path), (test, report.test_path)):
            frame[IMAGE_COLUMN] = [str(Path(csv).parent / p) for p in frame[IMAGE_COLUMN]]
        prof = image_profile(train, test, label)
    else:
        prof = profile_data(train, test, label, text, report.feature_columns, classification, seed)
    findings += prof.findings
    skipped += prof.skipped
    lap("profile")

    if not text and task != TaskType.IMAGE_CLASSIFICATION:
        kept, dropped = select_columns(train, label, report.feature_columns)
        if dropped:
            report.feature_columns = kept
            report.columns = [*kept, label]
            findings.append(
                "Dropped from the features: "
                + ", ".join(f"'{c}' ({why})" for c, why in dropped.items())
                + "; they cannot help a model, and an identifier lets it memorise rows."
            )
        extra["dropped_columns"] = dropped
        numeric = [
            c for c in kept if c in train.columns and str(train[c].dtype) not in ("str", "string", "object")
        ]
        if len(numeric) >= WIDE:
            effect = reduce_dimensions(
                train, label, features=numeric, classification=classification, seed=seed
            )
            extra["reduction"] = effect
            findings.append(f"Dimensionality: {describe(effect)} The model keeps the original inputs.")
        lap("reduce")

    # Sufficiency, on the rows left after cleaning: with a test file, train and test apart; else
    # every labelled row, of which a share was held out.
    counts = dict(report.label_counts)
    test_counts = None
    if classification:
        held = {str(c): int(n) for c, n in test[label].value_counts().items()}
        if report.test_from == "user":
            test_counts = held
        else:
            counts = {c: counts.get(c, 0) + held.get(c, 0) for c in set(counts) | set(held)}
    n_labelled = report.n_train + (report.n_test if report.test_from == "split" else 0)
    suff = check_sufficiency(spec, counts, n_rows=n_labelled, test_counts=test_counts)
    report.sufficiency = suff
    if not suff.enough:
        report.questions.append(ask_for_more(suff))
        findings.insert(0, f"Too little labelled data after cleaning: {suff.more_needed} more rows needed.")
    else:
        target = _accuracy_target(spec)
        if image and target is not None:
            skipped.append("learning-curve probe (images: the Model agent's curve is in the model card)")
        elif classification and target is not None and len(train) <= LEARNING_CURVE_MAX_ROWS:
            suff.estimate = learning_curve_estimate(train, label, target, text, report.feature_columns, seed)
            if suff.estimate:
                findings.append(f"Learning curve: {suff.estimate}.")
        elif classification and target is not None:
            skipped.append(f"learning curve (over {LEARNING_CURVE_MAX_ROWS:,} rows)")
    lap("sufficiency")

    if classification and suff.enough and task != TaskType.IMAGE_CLASSIFICATION:
        found = find_label_errors(train, label, text, report.feature_columns, seed=seed)
        if found.skipped:
            skipped.append(f"label-error search ({found.skipped})")
        else:
            _write_issues(run_dir / "data" / "label_issues.csv", found.issues)
            threshold = relabel_min_confidence if relabel_min_confidence is not None else MIN_CONFIDENCE
            fix = fix_labels(
                train, label, found.issues, approve, text, report.feature_columns, threshold, seed
            )
            report.label_issues = found.issues[:MAX_ISSUES_IN_REPORT]
            report.labels_corrected = len(fix.applied)
            report.label_fix = fix.trial
            extra["label_errors"] = {
                "oof_accuracy": found.oof_accuracy,
                "suspects": len(found.issues),
                "relabel_trial": fix.trial.model_dump() if fix.trial else None,
            }
            if fix.applied:  # the training file keeps the person's labels; the Model agent reads these
                corrections = run_dir / "data" / "label_corrections.csv"
                _write_issues(corrections, fix.applied)
                report.corrections_path = str(corrections)
            findings.append(
                f"Label check (confident learning, {found.oof_accuracy:.0%} out-of-fold accuracy): "
                f"{len(found.issues)} of {len(train)} training rows look mislabelled, "
                f"{len(fix.proposed) + fix.capped + fix.unconfirmed} with confidence >= {threshold:.2f}; "
                + summary(fix)
            )
        lap("label_errors")

    tried: set[str] = set()
    if classification and not image:
        features = [text] if text else report.feature_columns  # a text model reads the text alone
        report.catalog, added = offer(
            train, test, label, text, features, report.train_path, approve, catalog_url, use_catalog, seed
        )
        tried = {t.name for t in report.catalog}
        findings += [catalog_summary(t) for t in report.catalog]
        if added:
            n_person = report.n_train
            report.catalog_rows = added
            report.n_train += added
            merged = load_table(report.train_path)
            report.label_counts = {
                str(c): int(n) for c, n in merged[label].astype(str).value_counts().items()
            }
            findings.append(
                f"Training data: {n_person:,} of your rows and {added:,} catalog rows "
                "(data/catalog_rows.csv); the test set is yours alone."
            )
    related = [r for name, r in _catalog_matches(spec, catalog_url) if name not in tried]
    if related:
        findings.append(
            "Related data in the catalog (not used without your approval): " + "; ".join(related) + "."
        )
    lap("catalog")

    raw = None
    if any(report.missing_values.values()):
        raw = load_table(train_path)
    plots = make_plots(
        train,
        test,
        run_dir / "plots",
        label,
        text,
        report.feature_columns,
        classification,
        raw=raw,
        seed=seed,
    )
    report.plots = [str(Path(p).relative_to(run_dir)) for p in plots]
    lap("plots")

    if skipped:
        findings.append("Skipped on this data: " + "; ".join(skipped) + ".")
    report.findings = findings
    report.notes = [*findings, *(n for n in report.notes if n not in findings)]
    profile = {**prof.to_dict(), **extra, "sufficiency": suff.model_dump(), "seconds": timings}
    (run_dir / "data" / "profile.json").write_text(
        json.dumps(profile, indent=2, default=str), encoding="utf-8"
    )
    _append_card(run_dir / report.data_card, report, prof, extra)
    report.html_report = "data_report.html"
    lap("card")
    profile["seconds"] = timings
    (run_dir / "data" / "profile.json").write_text(
        json.dumps(profile, indent=2, default=str), encoding="utf-8"
    )
    (run_dir / report.html_report).write_text(_html(report, spec, prof, extra, timings), encoding="utf-8")
    return report


def needs_more_data(spec: TaskSpec, report: DataReport) -> TaskSpec:
    """The Task agent's spec turned into 'ask' with the Data agent's questions (nothing to ask: same)."""
    if not report.questions:
        return spec
    asked = spec.model_copy(deep=True)
    asked.decision = "ask"
    if report.sufficiency is not None and report.sufficiency.reason:
        asked.reasons.append(
            f"After cleaning there is too little labelled data to train on. {report.sufficiency.reason}."
        )
    asked.questions.extend(q for q in report.questions if q not in asked.questions)
    return asked


def _accuracy_target(spec: TaskSpec) -> float | None:
    targets = [r.target for r in spec.requirements if r.name in ("accuracy", "f1") and r.op in (">=", ">")]
    return max(targets) if targets else None


def _write_issues(path: Path, issues: list[Any]) -> None:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["row", "given", "suggested", "confidence", "preview"]
    pd.DataFrame([i.model_dump() for i in issues], columns=columns).to_csv(path, index=False)


def _catalog_matches(spec: TaskSpec, url: str | None) -> list[tuple[str, str]]:
    """Up to three catalog entries relevant to the request's words, if a catalog exists (never
    creates one): (name, one line)."""

    catalog = existing(url)
    try:
        hits = catalog.search(spec.request, limit=3) if catalog is not None else []
    except Exception:  # an unreachable shared catalog must not stop the run
        return []
    return [
        (h.name, f"'{h.name}' ({h.rows or '?'} rows, {h.kind}, score {h.score:.2f}): {h.path}") for h in hits
    ]


# --- data card and HTML report -------------------------------------------------------------


def _trial_lines(t: Any) -> list[str]:
    per_class = ", ".join(f"'{md(c)}' {n}" for c, n in t.per_class.items() if n)
    return [
        f"| {t.metric}, {t.folds}-fold out of fold | without corrections | with corrections | gain "
        "| bootstrap wins | decision |",
        "|---|---|---|---|---|---|",
        f"| on the labels you gave | {t.without:.4f} | {t.with_corrections:.4f} | {t.gain:+.4f} "
        f"| {t.wins:.0%} | {t.decision} |",
        "",
        f"Proposed: {t.proposed} rows ({per_class}). Why: {md(t.reason)}.",
    ]


def _catalog_lines(report: DataReport) -> list[str]:
    lines = [
        "| data set | source | licence | rows usable | without | with | gain | bootstrap wins | decision |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in report.catalog:
        by = f" ({md(t.by)})" if t.by else ""
        lines.append(
            f"| `{md(t.name)}` | {md(t.source or 'not recorded')} | {md(t.licence or 'not recorded')} "
            f"| {t.rows:,} | {t.without:.4f} | {t.with_catalog:.4f} | {t.gain:+.4f} | {t.wins:.0%} "
            f"| {md(t.decision)}{by} |"
        )
    lines += [
        "",
        f"Scores: {report.catalog[0].metric}, out of fold on your training rows only, the probe fitted "
        "without and with the catalog rows. Catalog rows never enter the test set; rows whose input is "
        "one of your test or training rows are left out"
        + (
            f". Added: {report.catalog_rows:,} rows, appended to data/train.csv and listed in "
            "data/catalog_rows.csv."
            if report.catalog_rows
            else "; none was added."
        ),
    ]
    lines += [""] if any(t.excluded for t in report.catalog) else []
    for t in report.catalog:
        if t.excluded:
            lines.append(
                f"- `{md(t.name)}` left out: " + "; ".join(f"{n} ({md(w)})" for w, n in t.excluded.items())
            )
    return lines


def _append_card(path: Path, report: DataReport, prof: Any, extra: dict[str, Any]) -> None:
    card = path.read_text(encoding="utf-8").rstrip()
    lines = [card, "", "## Findings", ""]
    listed = set(card.splitlines())  # a finding of the cleaning (mixed numbers) is listed there already
    found = [f"- {md(f)}" for f in report.findings]
    new = [f for f in found if f not in listed]
    lines += new or [
        f"- {'Only those under Cleaning and split.' if found else 'Nothing suspicious was found.'}"
    ]
    lines += ["", "## Profile", ""]
    lines += ["| column | kind | dtype | missing | distinct |", "|---|---|---|---|---|"]
    for name, info in prof.columns.items():
        lines.append(
            f"| `{md(name)}` | {info['kind']} | {info['dtype']} | {info['missing']} | {info['distinct']} |"
        )
    if prof.imbalance_ratio is not None:
        lines += ["", f"Imbalance ratio in the prepared training set: {prof.imbalance_ratio:.2f}."]
    dup = prof.duplicates
    lines += [
        "",
        f"Duplicates in the prepared data: exact {dup.get('exact', 0)}, same input after normalising "
        f"{dup.get('same_input_normalized', 0)}, training rows matching a test row "
        f"{dup.get('train_rows_in_test', 0)}, near-duplicate text pairs {len(prof.near_duplicate_pairs)}, "
        f"near-duplicates across train/test {len(prof.leak_pairs)}.",
    ]
    suff = report.sufficiency
    if suff is not None:
        lines += ["", "## Sufficiency", "", f"- Enough labelled data: {'yes' if suff.enough else 'NO'}."]
        lines.append(f"- Why: {md(suff.reason)}.")
        if not suff.enough:
            lines.append(f"- More labelled rows needed: {suff.more_needed} ({md(suff.needed_per_class)}).")
        if suff.estimate:
            lines.append(f"- Learning curve: {md(suff.estimate)}.")
    if report.label_issues:
        lines += ["", "## Likely label errors (most confident first)", ""]
        lines += ["| row | given | suggested | confidence | text |", "|---|---|---|---|---|"]
        for i in report.label_issues[:10]:
            preview = md(i.preview[:80])
            lines.append(
                f"| {i.row} | `{md(i.given)}` | `{md(i.suggested)}` | {i.confidence:.2f} | {preview} |"
            )
        lines.append("")
        lines.append(
            f"{report.labels_corrected} label(s) were corrected (data/label_corrections.csv; "
            "data/train.csv keeps your labels); the full list of suspects is data/label_issues.csv."
        )
    if report.label_fix is not None:
        lines += ["", "## Relabelling trial (scored on your own labels)", ""]
        lines += _trial_lines(report.label_fix)
    if report.catalog:
        lines += ["", "## Catalog data (tried on your own rows and labels)", ""]
        lines += _catalog_lines(report)
    if report.plots:
        lines += ["", "## Plots", ""]
        lines += [f"![{Path(p).stem.replace('_', ' ')}]({p})" for p in report.plots]
    lines += [
        "",
        "Full report with the plots: [data_report.html](data_report.html); numbers in `data/profile.json`.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def _html(
    report: DataReport, spec: TaskSpec, prof: Any, extra: dict[str, Any], timings: dict[str, float]
) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Data report</title>",
        "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}"
        "img{max-width:100%;border:1px solid #eee;margin:4px 0}</style></head><body>",
        "<h1>Data report</h1>",
        f"<p>Task: {e(spec.task_type.value)}; label <code>{e(report.label_column)}</code>"
        + (f"; text <code>{e(report.text_column)}</code>" if report.text_column else "")
        + f". Training rows {report.n_train:,}, test rows {report.n_test:,} ({e(report.test_from)}).</p>",
    ]
    if report.questions:
        parts.append("<h2>What I need from you</h2><ul>")
        parts += [f"<li><b>{e(q)}</b></li>" for q in report.questions]
        parts.append("</ul>")
    parts.append("<h2>Findings</h2><ul>")
    parts += [f"<li>{e(f)}</li>" for f in report.findings] or ["<li>Nothing suspicious was found.</li>"]
    parts.append("</ul><h2>Cleaning and split</h2><ul>")
    parts += [f"<li>{e(n)}</li>" for n in report.notes if n not in report.findings]
    parts.append("</ul>")
    if report.label_counts:
        parts.append("<h2>Labels (training)</h2><table><tr><th>class</th><th>rows</th></tr>")
        parts += [f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in report.label_counts.items()]
        parts.append("</table>")
    parts.append(
        "<h2>Columns</h2><table><tr><th>column</th><th>kind</th><th>dtype</th><th>missing</th><th>distinct</th></tr>"
    )
    for name, info in prof.columns.items():
        parts.append(
            f"<tr><td>{e(name)}</td><td>{e(info['kind'])}</td><td>{e(info['dtype'])}</td>"
            f"<td>{info['missing']}</td><td>{info['distinct']}</td></tr>"
        )
    parts.append("</table>")
    if report.label_issues:
        parts.append(
            "<h2>Likely label errors</h2><table><tr><th>row</th><th>given</th><th>suggested</th>"
            "<th>confidence</th><th>text</th></tr>"
        )
        for i in report.label_issues:
            parts.append(
                f"<tr><td>{i.row}</td><td>{e(i.given)}</td><td>{e(i.suggested)}</td>"
                f"<td>{i.confidence:.2f}</td><td>{e(i.preview)}</td></tr>"
            )
        parts.append(f"</table><p>Corrected: {report.labels_corrected}.</p>")
    if report.label_fix is not None:
        t = report.label_fix
        parts.append(
            f"<h2>Relabelling trial</h2><p>{e(t.metric)} on your own labels, {t.folds}-fold out of fold: "
            f"{t.without:.4f} without the {t.proposed} proposed corrections, {t.with_corrections:.4f} "
            f"with them ({t.gain:+.4f}, higher in {t.wins:.0%} of bootstrap resamples): "
            f"<b>{e(t.decision)}</b>. {e(t.reason)}.</p>"
        )
    if report.catalog:
        parts.append(
            "<h2>Catalog data</h2><p>Tried on your own rows and labels (out of fold, the probe fitted "
            "without and with the catalog rows); never in the test set.</p><table><tr><th>data set</th>"
            "<th>source</th><th>licence</th><th>rows</th><th>without</th><th>with</th><th>decision</th></tr>"
        )
        parts += [
            f"<tr><td>{e(t.name)}</td><td>{e(t.source or 'not recorded')}</td>"
            f"<td>{e(t.licence or 'not recorded')}</td><td>{t.rows}</td><td>{t.without:.4f}</td>"
            f"<td>{t.with_catalog:.4f}</td><td>{e(t.decision)}{e(f' ({t.by})' if t.by else '')}</td></tr>"
            for t in report.catalog
        ]
        parts.append(f"</table><p>Rows added to training: {report.catalog_rows}.</p>")
    if report.plots:
        parts.append("<h2>Plots</h2>")
        parts += [f"<p><img src='{e(p)}' alt='{e(Path(p).stem)}'></p>" for p in report.plots]
    parts.append("<h2>Time per skill (s)</h2><table>")
    parts += [f"<tr><td>{e(k)}</td><td>{v:.2f}</td></tr>" for k, v in timings.items()]
    parts.append("</table><p>Data card: <a href='data_card.md'>data_card.md</a>.</p></body></html>")
    return "\n".join(parts)
