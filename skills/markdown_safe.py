"""Data-derived text in the Markdown documents a run writes (report.md, model_card.md,
data_card.md, service/API.md) and in the service's OpenAPI description.

A label, a column name or a request is data: `<script>alert(1)</script>` as a label must show as
text wherever the document is rendered, never run. `md_text` HTML-escapes it (&, <, >), escapes
the characters that would break a table row or a code span, and keeps it on one line; `md_json`
writes JSON for a code block with <, > and & as \\u escapes (the same JSON, inert as HTML).
"""

from __future__ import annotations

import html
import json
from typing import Any


def md_text(value: Any) -> str:
    """`value` as inert Markdown text, safe in a paragraph, a list item or a table cell."""
    text = html.escape(str(value), quote=False)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def md_json(value: Any, indent: int | None = 2, **kwargs: Any) -> str:
    """json.dumps for a Markdown code block (or an HTML page): <, > and & as \\u escapes."""
    text = json.dumps(value, indent=indent, **kwargs)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
