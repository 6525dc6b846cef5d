"""Which task a request is, and which columns of the data it is about.

`infer_task(request, df)` returns (task type, label column, text column or None, feature columns).
Rules, in order: an explicit override; a column the request names ("predict the score", "label is
sentiment", "classify by category", "use rating as the target"); a conventional name (label,
target, class, y, score, ...); the last column. pandas is imported by the caller; this module
only touches the frame it is given.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from trainer_agent.skills.errors import UserError
from trainer_agent.skills.specs import TaskType

if TYPE_CHECKING:
    import pandas as pd

_I = re.IGNORECASE
CONVENTIONAL_LABELS = (
    "label",
    "labels",
    "target",
    "class",
    "y",
    "score",
    "sentiment",
    "category",
    "rating",
    "outcome",
)
_REGRESSION_WORDS = re.compile(
    r"\bregress\w*|\bhow\s+(?:much|many|long)\b|\bforecast\w*|\bcontinuous\b|"
    r"\b(?:predict|estimat)\w*\s+(?:the\s+|a\s+|an\s+|its\s+|their\s+)?(?:[\w-]+\s+)?"
    r"(?:price|prices|value|values|amount|amounts|cost|costs|revenue|sales|salary|income|temperature|age|"
    r"quantity|number|duration|weight|height|demand|count)\b",
    _I,
)
_CLASSIFICATION_WORDS = re.compile(
    r"\bclassif\w*|\bcategori[sz]\w*|\bsentiment\b|\bspam\b|\bbinary\b|\bmulti-?class\b|\bwhich\s+(?:class|category)",
    _I,
)
_IMAGE_WORDS = re.compile(r"\b(?:images?|photos?|photographs?|pictures?|pics|jpe?gs?|pngs?)\b", _I)
_TEXT_WORDS = re.compile(
    r"\b(?:texts?|reviews?|sentences?|documents?|e-?mails?|tweets?|comments?|messages?|posts?|articles?|"
    r"sentiment|spam|headlines?|paragraphs?|nlp)\b",
    _I,
)
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|bmp|gif|webp|tiff?)$", _I)
_ID_NAME = re.compile(r"(?:^|[_\s-])(?:id|ids|idx|index|key|uuid|guid)$|^unnamed", _I)
# What comes right before a column name that the request says is the label / the text.
_LABEL_BEFORE = re.compile(
    r"(?:\bpredict\w*|\bestimat\w*|\bforecast\w*|\bguess\w*|"
    r"\b(?:label|target|output|class)(?:\s+column)?\s*(?:is|=|:|being)?|"
    r"\bclassif\w*(?:\s+[^\s,.;]+){0,4}?\s+(?:by|into|according\s+to))"
    r"\s+(?:the\s+|a\s+|an\s+|its\s+|their\s+)?(?:column\s+)?[\"'`]?$",
    _I,
)
_LABEL_AFTER = re.compile(
    r"[\"'`]?\s+(?:column\s+)?(?:is|as|will\s+be|should\s+be)\s+(?:the\s+|my\s+|our\s+)?(?:label|target|output|class)",
    _I,
)
_TEXT_BEFORE = re.compile(
    r"(?:\b(?:text|input)(?:\s+column)?\s*(?:is|=|:|in)?\s+(?:the\s+)?(?:column\s+)?[\"'`]?$)", _I
)
_TEXT_AROUND = re.compile(r"\b(?:for|from|on|using|of|in)\s+(?:the\s+|their\s+|its\s+)?[\"'`]?$", _I)
_TEXT_AFTER = re.compile(r"[\"'`]?\s+(?:column|field|text)\b", _I)


def _require(df: pd.DataFrame, col: str) -> None:
    if col not in df.columns:
        raise UserError(f"column '{col}' is not in the data; columns are: {', '.join(map(str, df.columns))}")


def _mentions(text: str, col: str) -> list[re.Match[str]]:
    name = r"[_\s-]+".join(re.escape(part) for part in re.split(r"[_\s-]+", str(col).strip()) if part)
    return list(re.finditer(rf"(?<![\w]){name}(?![\w])", text, _I)) if name else []


def _named_column(
    text: str, columns: list[str], before: re.Pattern[str], after: re.Pattern[str]
) -> str | None:
    """The column the request names with a cue before or after it; longer names win over their parts."""
    for col in sorted(columns, key=lambda c: len(str(c)), reverse=True):
        for hit in _mentions(text, col):
            if before.search(text[max(0, hit.start() - 80) : hit.start()]) or after.match(text, hit.end()):
                return col
    return None


def _strings(s: pd.Series) -> pd.Series:
    import pandas as pd

    if not (pd.api.types.is_string_dtype(s) or pd.api.types.is_object_dtype(s)):
        return s.iloc[0:0]
    return s.dropna().astype(str)


def is_id_like(s: pd.Series) -> bool:
    """An identifier, not a feature: all-unique integers named like an id or forming a range
    (0..n-1 shuffled), or short codes without spaces that are (nearly) all distinct."""
    import pandas as pd

    vals = s.dropna()
    n = len(vals)
    if n < 2:
        return False
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s):
        if vals.nunique() != n:
            return False
        return bool(_ID_NAME.search(str(s.name))) or int(vals.max()) - int(vals.min()) + 1 == n
    strs = _strings(s)
    if strs.empty:
        return False
    no_spaces = not strs.str.contains(r"\s", regex=True).any()
    return (
        no_spaces
        and strs.str.len().mean() <= 40
        and (strs.nunique() >= 0.9 * n or bool(_ID_NAME.search(str(s.name))))
    )


def is_text_column(s: pd.Series) -> bool:
    """Free text: strings of 30+ characters on average, mostly distinct, with spaces."""
    strs = _strings(s)
    if strs.empty:
        return False
    return (
        strs.str.len().mean() >= 30
        and strs.nunique() >= 0.5 * len(strs)
        and strs.str.contains(r"\s", regex=True).mean() >= 0.5
    )


def _image_column(df: pd.DataFrame, exclude: str) -> str | None:
    for col in df.columns:
        strs = _strings(df[col])
        if col != exclude and not strs.empty and strs.str.contains(_IMAGE_EXT).mean() >= 0.8:
            return col
    return None


def task_from_words(text: str) -> TaskType:
    """The task type from the request alone, for when there is no data yet."""
    if _REGRESSION_WORDS.search(text):
        return TaskType.TABULAR_REGRESSION
    if _IMAGE_WORDS.search(text):
        return TaskType.IMAGE_CLASSIFICATION
    if _TEXT_WORDS.search(text):
        return TaskType.TEXT_CLASSIFICATION
    return TaskType.TABULAR_CLASSIFICATION


def _label_column(text: str, df: pd.DataFrame, label: str | None, text_col: str | None) -> str:
    if label is not None:
        return label
    columns = [c for c in df.columns if c != text_col]
    if named := _named_column(text, columns, _LABEL_BEFORE, _LABEL_AFTER):
        return named
    lower = {str(c).lower(): c for c in columns}
    for name in CONVENTIONAL_LABELS:
        if name in lower:
            return lower[name]
    return columns[-1] if columns else df.columns[-1]


def _text_column(text: str, df: pd.DataFrame, label_col: str) -> str | None:
    candidates = [c for c in df.columns if c != label_col and is_text_column(df[c]) and not is_id_like(df[c])]
    if not candidates:
        return None
    cue = _named_column(text, candidates, _TEXT_BEFORE, _TEXT_AFTER)
    if cue is None:  # "for the review column" needs both sides; "from the review text" too
        for col in candidates:
            for hit in _mentions(text, col):
                start = hit.start()
                if _TEXT_AROUND.search(text[max(0, start - 40) : start]) and _TEXT_AFTER.match(
                    text, hit.end()
                ):
                    cue = col
    return cue or max(candidates, key=lambda c: _strings(df[c]).str.len().mean())


def _is_regression_label(s: pd.Series) -> bool:
    import pandas as pd

    vals = s.dropna()
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s) or vals.empty:
        return False
    distinct = vals.nunique()
    return distinct > 20 and distinct > 0.05 * len(vals)


def infer_task(
    text: str, df: pd.DataFrame, label: str | None = None, text_col: str | None = None
) -> tuple[TaskType, str, str | None, list[str]]:
    """(task type, label column, text column or None, feature columns) of a request on `df`.

    Task type: regression words ("regress", "predict the price", "how many") on a numeric label, or
    a numeric label with many distinct values (> 20 and > 5% of rows) unless the request says it is
    a classification; image words or a column of image paths -> image_classification (features:
    the path column); a free-text column -> text_classification; else tabular_classification.
    Features: the text column for text, all columns but the label and id-like ones for tabular.

    Raises:
        UserError: an override names a column that is not in `df`, or `df` has no columns or rows.
    """
    import pandas as pd

    if len(df.columns) == 0:
        raise UserError("the data has no columns")
    if len(df) == 0:
        raise UserError(f"the data has no rows; columns are: {', '.join(map(str, df.columns))}")
    for col in (label, text_col):
        if col is not None:
            _require(df, col)
    label_col = _label_column(text, df, label, text_col)
    y = df[label_col]
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    says_classify = bool(_CLASSIFICATION_WORDS.search(text))
    rest = [c for c in df.columns if c != label_col]
    if numeric and (_REGRESSION_WORDS.search(text) or (_is_regression_label(y) and not says_classify)):
        return TaskType.TABULAR_REGRESSION, label_col, None, [c for c in rest if not is_id_like(df[c])]
    image_col = _image_column(df, label_col)
    if image_col is not None:
        return TaskType.IMAGE_CLASSIFICATION, label_col, None, [image_col]
    # The data decides before the words: "flag messages that ask for photos" on a text column is text.
    text_column = text_col if text_col is not None else _text_column(text, df, label_col)
    if text_column is not None:
        return TaskType.TEXT_CLASSIFICATION, label_col, text_column, [text_column]
    if _IMAGE_WORDS.search(text):
        return TaskType.IMAGE_CLASSIFICATION, label_col, None, []
    return TaskType.TABULAR_CLASSIFICATION, label_col, None, [c for c in rest if not is_id_like(df[c])]
