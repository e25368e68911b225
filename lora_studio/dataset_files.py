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
        where = f"{self.unit} {self.row}" if self.row is not None else "file"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


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
                f"The file starts like UTF-16 text but breaks off at byte {exc.start} ({exc.reason})",
                "Save it again as UTF-8 (or complete UTF-16)",
            ) from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8", None
    except UnicodeDecodeError as exc:
        bad_at = exc.start
    line = raw.count(b"\n", 0, bad_at) + 1
    for encoding, label in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        warning = DataIssue(
            None,
            f"the file is not UTF-8 (first bad byte 0x{raw[bad_at]:02x} on line {line}); "
            f"it was read as {label}: check accented characters, or re-save it as UTF-8",
            severity="warning",
        )
        return text, encoding, warning
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
            f"{path.name} is {size / 2**20:.0f} MB, above the {max_bytes / 2**20:.0f} MB upload limit",
            "Use a smaller file, or raise LORA_STUDIO_MAX_UPLOAD_MB when starting LoRA Studio",
        )


def read_file(path: str | Path, max_bytes: int | None = None) -> FileRead:
    path = Path(path)
    if not path.exists():
        raise DataError(f"Data file {path} does not exist", "Check the path, or upload the file again")
    if path.is_dir():
        raise DataError(
            f"{path} is a folder, not a data file", "Point at a .jsonl, .json, .csv, .tsv, .parquet or .txt file"
        )
    if max_bytes is not None:
        check_size(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _read_parquet(path)
    raw = path.read_bytes()
    if looks_binary(raw):
        raise DataError(
            f"{path.name} is not a text file: it holds binary data (like an image, an archive or a "
            "program), not rows of text",
            "Upload a JSONL, JSON, CSV, TSV or TXT file saved as text (or a .parquet file); "
            "export it again from the program that made it if needed",
        )
    text, encoding, warning = decode(raw)
    text = text.replace("\r\n", "\n")  # Windows line ends, also inside quoted CSV fields
    if not text.strip():
        raise DataError(f"Data file {path.name} is empty", "Add at least one example row")
    if suffix in (".csv", ".tsv"):
        result = _read_table(text, path, "\t" if suffix == ".tsv" else ",")
    elif suffix == ".txt":
        result = _read_text(text)
    elif suffix == ".json" or (suffix not in (".jsonl", ".ndjson") and text.lstrip().startswith("[")):
        result = _read_json(text, path)
    else:
        result = _read_jsonl(text)
    result.encoding = encoding
    if warning:
        result.issues.insert(0, warning)
    return result


def _read_jsonl(text: str) -> FileRead:
    records, issues = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            issues.append(DataIssue(number, f"malformed JSON ({exc.msg} at column {exc.colno})", unit="line"))
            continue
        except RecursionError:
            issues.append(DataIssue(number, "JSON nested too deeply to read", unit="line"))
            continue
        if not isinstance(value, dict):
            issues.append(DataIssue(number, f"expected a JSON object, got {type(value).__name__}", unit="line"))
            continue
        value[ROW_KEY] = number
        records.append(value)
    return FileRead(records, "jsonl", issues=issues)


def _read_json(text: str, path: Path) -> FileRead:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
            "Fix the JSON, or save one object per line as .jsonl",
        ) from exc
    except RecursionError as exc:
        raise DataError(f"{path.name} is JSON nested too deeply to read", "Save one flat object per row") from exc
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
            f"{path.name} holds a single JSON {type(value).__name__}, not records",
            'Write an array of objects, e.g. [{"text": "..."}], or one object per line as .jsonl',
        )
    records, issues = [], []
    for number, item in enumerate(value, start=1):
        if isinstance(item, dict):
            records.append({**item, ROW_KEY: number})
        else:
            issues.append(DataIssue(number, f"expected a JSON object, got {type(item).__name__}"))
    return FileRead(records, "json", issues=issues)


def _read_table(text: str, path: Path, sep: str) -> FileRead:
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise DataError(
            f"{path.name} is not a readable {'TSV' if sep == chr(9) else 'CSV'} file ({reason})",
            "Check the quoting and that every row has as many fields as the header",
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
        raise DataError(f"{path.name} is not a readable Parquet file ({exc})", "Export it again, or use JSONL") from exc
    if not records:
        raise DataError(f"Data file {path.name} is empty", "Add at least one example row")
    for number, record in enumerate(records, start=1):
        record[ROW_KEY] = number
    return FileRead(records, "parquet")


def _read_text(text: str) -> FileRead:
    """Paragraphs (blocks between blank lines) when there are several, else one row per line."""
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip("\n") for b in normal.split("\n\n") if b.strip()]
    if len(blocks) > 1:
        rows, note = blocks, f"{len(blocks)} paragraphs separated by blank lines"
    else:
        rows = [line for line in normal.split("\n") if line.strip()]
        note = f"{len(rows)} non-empty lines"
    records = [{"text": row, ROW_KEY: i} for i, row in enumerate(rows, start=1)]
    return FileRead(records, "txt", note=note)
