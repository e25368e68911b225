"""Reading a data file of any common kind into raw records, with every problem named by line or row.

JSONL is read line by line (so a broken line is reported with its number and the rest survive);
JSON, CSV/TSV, Parquet and plain text go through json, pandas and pyarrow. Bytes that are not
UTF-8 are decoded with a guessed encoding and reported, never silently mangled.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from lora_studio.errors import DataError
from lora_studio.messages import text

SUPPORTED_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".txt")
ROW_KEY = "_row"  # where each record remembers its line (JSONL) or row number


@dataclass
class DataIssue:
    row: int | None  # 1-based line (JSONL) or row; None for file-level problems
    message: str
    column: str | None = None
    severity: str = "error"  # errors block training, warnings do not
    unit: str = "row"

    def __str__(self) -> str:
        where = place(self.unit, self.row)
        if self.column:
            where = text("datafile.where.column", where=where, column=self.column)
        return text("datafile.issue", where=where, message=self.message)


def place(unit: str, row: int | None) -> str:
    """Where in the file, in words: 'line 3' (JSONL), 'row 3' (the other kinds) or 'file' (no row)."""
    if row is None:
        return text("datafile.where.file")
    return text("datafile.where.line", row=row) if unit == "line" else text("datafile.where.row", row=row)


@dataclass
class FileRead:
    records: list[dict]
    kind: str  # jsonl, json, csv, tsv, parquet, txt
    encoding: str = "utf-8"
    issues: list[DataIssue] = field(default_factory=list)
    note: str = ""  # how the file was cut into rows, for plain text


def decode(raw: bytes) -> tuple[str, str, DataIssue | None]:
    """(text, encoding, warning): UTF-8 (with or without BOM), UTF-16 with BOM, else a guess."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16", None
        except UnicodeDecodeError as exc:
            raise DataError(
                text("datafile.utf16_broken", byte=exc.start, reason=exc.reason), text("datafile.utf16_broken_hint")
            ) from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8", None
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    line = raw.count(b"\n", 0, bad_at) + 1
    for encoding, label in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            content = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        warning = DataIssue(
            None, text("datafile.not_utf8", byte=raw[bad_at], line=line, encoding=label), severity="warning"
        )
        return content, encoding, warning
    raise AssertionError("latin-1 decodes every byte string")


_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13)) + b"\x7f"


def looks_binary(raw: bytes, probe: int = 65536) -> bool:
    """Binary data rather than text in some encoding: a NUL byte (outside UTF-16, which has a BOM) or more
    than 5% control characters in the first 64 KB. Text files, whatever their encoding, have neither."""
    head = raw[:probe]
    if not head or head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    if b"\0" in head:
        return True
    return sum(head.count(bytes([c])) for c in _CONTROL) > 0.05 * len(head)


def check_size(path: Path, max_bytes: int) -> None:
    size = path.stat().st_size
    if size > max_bytes:
        raise DataError(
            text("datafile.too_big", name=path.name, size=size / 2**20, limit=max_bytes / 2**20),
            text("datafile.too_big_hint"),
        )


def read_file(path: str | Path, max_bytes: int | None = None) -> FileRead:
    path = Path(path)
    if not path.exists():
        raise DataError(text("datafile.missing", path=path), text("datafile.missing_hint"))
    if path.is_dir():
        raise DataError(text("datafile.folder", path=path), text("datafile.folder_hint"))
    if max_bytes is not None:
        check_size(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    raw = path.read_bytes()
    if looks_binary(raw):
        raise DataError(text("datafile.binary", name=path.name), text("datafile.binary_hint"))
    content, encoding, warning = decode(raw)
    content = content.replace("\r\n", "\n")  # Windows line ends, also inside quoted CSV fields
    if not content.strip():
        raise DataError(text("datafile.empty", name=path.name), text("datafile.empty_hint"))
    if suffix in (".csv", ".tsv"):
        result = _read_table(content, path, "\t" if suffix == ".tsv" else ",")
    elif suffix == ".txt":
        result = _read_text(content)
    elif suffix == ".json" or (suffix not in (".jsonl", ".ndjson") and content.lstrip().startswith("[")):
        result = _read_json(content, path)
    else:
        result = _read_jsonl(content)
    result.encoding = encoding
    if warning:
        result.issues.insert(0, warning)
    return result


def _read_jsonl(content: str) -> FileRead:
    records, issues = [], []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            message = text("datafile.bad_json_line", reason=exc.msg, column=exc.colno)
            issues.append(DataIssue(number, message, unit="line"))
            continue
        except RecursionError:
            issues.append(DataIssue(number, text("datafile.too_deep_line"), unit="line"))
            continue
        if not isinstance(value, dict):
            issues.append(DataIssue(number, text("datafile.not_object", kind=type(value).__name__), unit="line"))
            continue
        value[ROW_KEY] = number
        records.append(value)
    return FileRead(records, "jsonl", issues=issues)


def _read_json(content: str, path: Path) -> FileRead:
    try:
        value = json.loads(content)
    except json.JSONDecodeError as exc:
        raise DataError(
            text("datafile.bad_json", name=path.name, reason=exc.msg, line=exc.lineno, column=exc.colno),
            text("datafile.bad_json_hint"),
        ) from exc
    except RecursionError as exc:
        raise DataError(text("datafile.too_deep", name=path.name), text("datafile.too_deep_hint")) from exc
    if isinstance(value, dict):
        lists = {k: v for k, v in value.items() if isinstance(v, list)}
        if lists and len({len(v) for v in lists.values()}) == 1 and len(lists) == len(value) and len(lists) > 1:
            value = [dict(zip(lists, row, strict=True)) for row in zip(*lists.values(), strict=True)]  # columns
        elif len(lists) == 1:
            value = next(iter(lists.values()))  # {"data": [...]}
        else:
            value = [value]
    if not isinstance(value, list):  # a lone number, string, true or null
        raise DataError(
            text("datafile.single_value", name=path.name, kind=type(value).__name__), text("datafile.single_value_hint")
        )
    records, issues = [], []
    for number, item in enumerate(value, start=1):
        if isinstance(item, dict):
            records.append({**item, ROW_KEY: number})
        else:
            issues.append(DataIssue(number, text("datafile.not_object", kind=type(item).__name__)))
    return FileRead(records, "json", issues=issues)


def _read_table(content: str, path: Path, sep: str) -> FileRead:
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(content), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise DataError(
            text("datafile.bad_table", name=path.name, kind="TSV" if sep == chr(9) else "CSV", reason=reason),
            text("datafile.bad_table_hint"),
        ) from exc
    records = frame.to_dict(orient="records")
    for number, record in enumerate(records, start=1):
        record[ROW_KEY] = number
    return FileRead(records, "tsv" if sep == "\t" else "csv")


def _read_parquet(path: Path) -> FileRead:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        records = pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            text("datafile.bad_parquet", name=path.name, reason=exc), text("datafile.bad_parquet_hint")
        ) from exc
    if not records:
        raise DataError(text("datafile.empty", name=path.name), text("datafile.empty_hint"))
    for number, record in enumerate(records, start=1):
        record[ROW_KEY] = number
    return FileRead(records, "parquet")


def _read_text(content: str) -> FileRead:
    """Paragraphs (blocks between blank lines) when there are several, else one row per line."""
    normal = content.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip("\n") for b in normal.split("\n\n") if b.strip()]
    if len(blocks) > 1:
        rows, note = blocks, text("datafile.note.paragraphs", count=len(blocks))
    else:
        rows = [line for line in normal.split("\n") if line.strip()]
        note = text("datafile.note.lines", count=len(rows))
    records = [{"text": row, ROW_KEY: i} for i, row in enumerate(rows, start=1)]
    return FileRead(records, "txt", note=note)
