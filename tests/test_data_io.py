"""load_table on real data in every supported format, and one clear UserError for each bad file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris

from trainer_agent.skills.data.data_io import load_table
from trainer_agent.skills.errors import UserError

FINE_FOODS = Path(__file__).resolve().parents[1] / "configs" / "demo" / "fine_foods"


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    frame = load_iris(as_frame=True).frame
    frame["species"] = [load_iris().target_names[t] for t in frame.pop("target")]
    return frame


@pytest.fixture(scope="module")
def diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True, scaled=False).frame


def _write(df: pd.DataFrame, path: Path) -> Path:
    suffix = path.suffix
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix in (".tsv", ".tab"):
        df.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    elif suffix == ".json":
        df.to_json(path, orient="records")
    elif suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        raise AssertionError(suffix)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".tab", ".jsonl", ".json", ".parquet"])
def test_iris_round_trips_in_every_format(tmp_path: Path, iris: pd.DataFrame, suffix: str) -> None:
    loaded = load_table(_write(iris, tmp_path / f"iris{suffix}"))
    assert list(loaded.columns) == list(iris.columns)
    assert len(loaded) == 150
    np.testing.assert_allclose(loaded.iloc[:, :4].to_numpy(float), iris.iloc[:, :4].to_numpy(float))
    assert pd.api.types.is_string_dtype(loaded["species"])
    assert loaded["species"].value_counts().to_dict() == {"setosa": 50, "versicolor": 50, "virginica": 50}


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_diabetes_numeric_columns_stay_numeric(tmp_path: Path, diabetes: pd.DataFrame, suffix: str) -> None:
    loaded = load_table(_write(diabetes, tmp_path / f"diabetes{suffix}"))
    assert loaded.shape == (442, 11)
    assert all(pd.api.types.is_numeric_dtype(loaded[c]) for c in loaded.columns)
    np.testing.assert_allclose(loaded["target"].to_numpy(), diabetes["target"].to_numpy())


def test_fine_foods_csv_is_read_with_text_as_strings() -> None:
    df = load_table(FINE_FOODS / "train.csv")
    assert df.shape == (4000, 3)
    assert list(df.columns) == ["product", "review", "score"]
    assert pd.api.types.is_string_dtype(df["review"])
    assert df["review"].str.contains("<br />", regex=False).sum() > 0  # loading does not clean


@pytest.mark.parametrize("sep", [",", "\t"])
def test_txt_delimiter_is_sniffed(tmp_path: Path, iris: pd.DataFrame, sep: str) -> None:
    path = tmp_path / "iris.txt"
    iris.to_csv(path, index=False, sep=sep)
    assert load_table(path).shape == (150, 5)


def test_tab_separated_file_named_csv_is_read(tmp_path: Path, iris: pd.DataFrame) -> None:
    path = tmp_path / "iris.csv"
    iris.to_csv(path, index=False, sep="\t")
    assert list(load_table(path).columns) == list(iris.columns)


def test_utf8_bom_and_padded_column_names(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf text , label\ncaf\xc3\xa9 au lait,good\nplain,bad\n")
    df = load_table(path)
    assert list(df.columns) == ["text", "label"]
    assert df["text"].tolist() == ["café au lait", "plain"]


def test_jsonl_blank_lines_are_skipped_and_missing_keys_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "rows.ndjson"
    path.write_text('{"text": "a", "label": "x"}\n\n{"text": "b"}\n', encoding="utf-8")
    df = load_table(path)
    assert df.shape == (2, 2)
    assert df["label"].isna().tolist() == [False, True]


def test_json_lines_saved_as_json_are_read(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n', encoding="utf-8")
    assert load_table(path)["label"].tolist() == ["x", "y"]


# --- bad files: one UserError each, naming the file ---------------------------------------


def _error(path: Path | str) -> str:
    with pytest.raises(UserError) as info:
        load_table(path)
    assert type(info.value) is UserError
    return str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    assert _error(path) == f"data file '{path}' does not exist"


def test_folder_without_class_folders(tmp_path: Path) -> None:
    message = _error(tmp_path)
    assert str(tmp_path) in message and "class folders" in message


def test_unknown_extension_names_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "data.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    message = _error(path)
    assert "data.xls" in message and "'.xls'" in message
    for suffix in (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".xlsx", ".db"):
        assert suffix in message


def test_broken_excel_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK\x03\x04")
    assert _error(path).startswith(f"'{path}' is not a readable Excel workbook")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.csv", b""),
        ("blank.csv", b"\n \n\n"),
        ("header.csv", b"review,score\n"),
        ("header.tsv", b"review\tscore\n"),
        ("empty.jsonl", b"\n\n"),
        ("empty.json", b"[]"),
    ],
)
def test_no_data_rows(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    message = _error(path)
    assert f"'{path}'" in message and "has no data rows" in message


def test_header_only_parquet(tmp_path: Path) -> None:
    path = tmp_path / "header.parquet"
    pd.DataFrame({"review": pd.Series([], dtype=str), "score": pd.Series([], dtype=str)}).to_parquet(path)
    assert _error(path) == f"'{path}' has no data rows"


def test_non_utf8_bytes_are_rejected_with_their_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    content = b"review,score\n" + b"good coffee,great\n" * 70 + b"caf\xe9,great\n"
    path.write_bytes(content)
    offset = content.index(b"\xe9")
    assert offset > 1000
    assert _error(path) == (
        f"'{path}' is not UTF-8 text: byte 0xe9 at offset {offset}; re-save it as UTF-8 (it reads as cp1252)"
    )


def test_a_named_encoding_reads_a_legacy_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("review,score\ncafé crème très bon,great\nmauvais goût,other\n".encode("cp1252"))
    df = load_table(path, encoding="cp1252")
    assert df["review"].tolist() == ["café crème très bon", "mauvais goût"]
    assert pd.api.types.is_string_dtype(df["review"])
    assert "not a known text encoding" in _error_with(path, encoding="klingon")
    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("a,b\n1,2\n".encode("utf-16"))
    assert load_table(utf16, encoding="utf-16").to_dict("list") == {"a": [1], "b": [2]}


def _error_with(path: Path, **kwargs: object) -> str:
    with pytest.raises(UserError) as info:
        load_table(path, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


def test_non_utf8_offset_counts_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom_latin1.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n\xe9,1\n")
    assert "byte 0xe9 at offset 7" in _error(path)


def test_utf16_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "excel.txt"
    path.write_bytes("a\tb\n1\t2\n".encode("utf-16"))
    assert _error(path) == f"'{path}' is UTF-16 text, not UTF-8; re-save it as UTF-8"


def test_csv_row_with_too_many_fields_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    # The quoted two-line field makes the physical line (5) differ from the record number (4).
    path.write_text('text,label\na,x\n"two\nlines",y\nb,x,extra\nc,y\n', encoding="utf-8")
    assert _error(path) == f"'{path}' is not valid CSV: line 5 has 3 fields but the header has 2"


def test_csv_unclosed_quote_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('text,label\na,x\n"never closed,y\nb,x\n', encoding="utf-8")
    assert _error(path) == f"'{path}' is not valid CSV: a quote opened on line 3 is never closed"


def test_malformed_jsonl_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n{"text": "c", \n', encoding="utf-8")
    message = _error(path)
    assert message.startswith(f"'{path}' line 3 is not valid JSON")


@pytest.mark.parametrize(
    "line, reason",
    [
        ('{"text": "cut off in the midd', "unterminated string starting at column 10"),
        ('{"text": "a" "label": "x"}', "expecting ',' delimiter at column 14"),
        ("{'text': 'single quotes'}", "expecting property name enclosed in double quotes at column 2"),
        ('{"text": "x", "label": "y",}', "expecting property name enclosed in double quotes at column 28"),
        ('{"text": "tab\there"}', "invalid control character at column 14"),
    ],
)
def test_jsonl_errors_are_whole_sentences(tmp_path: Path, line: str, reason: str) -> None:
    """The decoder's own message ends mid-phrase ('Unterminated string starting at'): the column
    completes it, whatever the fault."""
    path = tmp_path / "cut.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n' + line + "\n", encoding="utf-8")
    assert _error(path) == f"'{path}' line 2 is not valid JSON: {reason}"


def test_nested_json_values_are_read_as_their_json_text(tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl"
    rows = [{"text": "a", "meta": {"b": 1, "a": [2]}, "label": "x"}, {"text": "b", "meta": None}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    df = load_table(path)
    assert df["meta"].tolist()[0] == '{"a": [2], "b": 1}' and pd.isna(df["meta"].tolist()[1])
    assert df["meta"].nunique() == 1  # hashable: profiling and de-duplication work on it


def test_jsonl_line_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "list.jsonl"
    path.write_text('{"text": "a"}\n["b", "y"]\n', encoding="utf-8")
    assert _error(path).startswith(f"'{path}' line 2 is a JSON list, not an object")


def test_json_that_is_not_a_list_of_records(tmp_path: Path) -> None:
    path = tmp_path / "obj.json"
    path.write_text(json.dumps({"text": ["a", "b"], "label": ["x", "y"]}), encoding="utf-8")
    assert "must hold a JSON list of records" in _error(path)


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"text": "a"},\n {"text": }]', encoding="utf-8")
    assert _error(path) == f"'{path}' line 2 is not valid JSON: expecting value at column 11"


def test_garbage_parquet(tmp_path: Path) -> None:
    path = tmp_path / "garbage.parquet"
    path.write_bytes(b"this is not parquet at all")
    assert _error(path).startswith(f"'{path}' is not a readable Parquet file")


@pytest.mark.parametrize("header", ["text,text", "text, text"])
def test_repeated_column_names_are_rejected(tmp_path: Path, header: str) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(f"{header},label\na,b,c\n", encoding="utf-8")
    assert _error(path) == f"'{path}' has more than one column named 'text'"
