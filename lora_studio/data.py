"""Training files → rows in one of TRL's three shapes, with every problem named by row.

Shapes: {"messages": [{role, content}, ...]}, {"prompt": str, "completion": str}, {"text": str}.
The CLI, the worker and (later) the Data tab all go through `load_dataset_file`, so a file that
previews fine trains fine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lora_studio.errors import DataError

FORMATS = ("messages", "prompt_completion", "text")
ROLES = ("system", "user", "assistant", "tool")
_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system", "tool": "tool", "function_call": "assistant", "observation": "tool"}
# The column each shape reads, under the name a mapping uses for it.
_DEFAULT_COLUMNS = {"messages": "messages", "prompt": "prompt", "completion": "completion", "text": "text"}


@dataclass
class DataIssue:
    row: int | None  # 1-based row (line for JSONL); None for file-level problems
    message: str
    column: str | None = None
    severity: str = "error"  # errors block training, warnings do not

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        if self.column:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


@dataclass
class LoadedData:
    path: Path
    format: str
    reason: str
    rows: list[dict]
    issues: list[DataIssue] = field(default_factory=list)

    @property
    def errors(self) -> list[DataIssue]:
        return [i for i in self.issues if i.severity == "error"]


def read_records(path: str | Path) -> tuple[list[dict], list[DataIssue]]:
    """Raw records from JSONL (or a JSON array); bad lines become issues, not exceptions."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"Data file {path} does not exist", "Check the path, or upload the file again")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a data file", "Point at a .jsonl file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name} is not UTF-8 text (byte {exc.start})", "Save the file as UTF-8") from exc
    if not text.strip():
        raise DataError(f"Data file {path.name} is empty", "Add at least one example row")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        return _read_json_array(text, path)
    records, issues = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            issues.append(DataIssue(number, f"malformed JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(value, dict):
            issues.append(DataIssue(number, f"expected a JSON object, got {type(value).__name__}"))
            continue
        value["_row"] = number
        records.append(value)
    return records, issues


def _read_json_array(text: str, path: Path) -> tuple[list[dict], list[DataIssue]]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno})",
                        "Fix the JSON, or save one object per line as JSONL") from exc
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, list)), [value])
    records, issues = [], []
    for number, item in enumerate(value, start=1):
        if isinstance(item, dict):
            records.append({**item, "_row": number})
        else:
            issues.append(DataIssue(number, f"expected a JSON object, got {type(item).__name__}"))
    return records, issues


def detect_format(columns: set[str], mapping: dict | None = None) -> tuple[str, str]:
    """(format, reason) from the columns present, honouring a user's column mapping."""
    mapping = mapping or {}
    if "messages" in mapping or "messages" in columns:
        return "messages", f"column '{mapping.get('messages', 'messages')}' holds chat turns"
    if "conversations" in columns:
        return "messages", "column 'conversations' holds ShareGPT-style turns (from/value)"
    if {"prompt", "completion"} <= (columns | set(mapping)):
        return "prompt_completion", "columns 'prompt' and 'completion' are present"
    if {"instruction", "output"} <= columns:
        return "prompt_completion", "Alpaca-style columns 'instruction' and 'output' are present"
    if "text" in mapping or "text" in columns:
        return "text", f"column '{mapping.get('text', 'text')}' holds plain text"
    shown = ", ".join(sorted(columns)) or "none"
    raise DataError(f"Cannot tell the data format from the columns ({shown})",
                    "Name the columns: messages, prompt+completion or text, or map yours with "
                    "data.columns (e.g. --set \"data.columns={prompt: question, completion: answer}\")")


def load_dataset_file(path: str | Path, fmt: str = "auto", mapping: dict | None = None) -> LoadedData:
    """Read, detect, normalise and check a training file."""
    mapping = dict(mapping or {})
    records, issues = read_records(path)
    if not records:
        raise DataError(f"{Path(path).name} has no usable rows ({len(issues)} unreadable)",
                        f"First problem: {issues[0]}" if issues else "Add at least one example row")
    columns = set().union(*(r.keys() for r in records)) - {"_row"}
    reason = "chosen in the config"
    if fmt == "auto":
        fmt, reason = detect_format(columns, mapping)
    elif fmt not in FORMATS:
        raise DataError(f"Unknown data format '{fmt}'", f"Use one of: auto, {', '.join(FORMATS)}")
    rows = []
    for record in records:
        row, row_issues = _normalise(record, fmt, mapping)
        issues.extend(row_issues)
        if row is not None:
            rows.append(row)
    return LoadedData(Path(path), fmt, reason, rows, issues)


def _col(mapping: dict, name: str, record: dict) -> str:
    if name in mapping:
        return mapping[name]
    if name == "messages" and "messages" not in record and "conversations" in record:
        return "conversations"
    return _DEFAULT_COLUMNS[name]


def _normalise(record: dict, fmt: str, mapping: dict) -> tuple[dict | None, list[DataIssue]]:
    row_no = record.get("_row")
    if fmt == "messages":
        column = _col(mapping, "messages", record)
        turns, problem = _turns(record.get(column))
        if problem:
            return None, [DataIssue(row_no, problem, column)]
        return {"messages": turns}, []
    if fmt == "prompt_completion":
        return _prompt_completion(record, mapping, row_no)
    column = _col(mapping, "text", record)
    text = record.get(column)
    if not isinstance(text, str) or not text.strip():
        return None, [DataIssue(row_no, "missing or empty text", column)]
    return {"text": text}, []


def _prompt_completion(record: dict, mapping: dict, row_no: int | None) -> tuple[dict | None, list[DataIssue]]:
    if "prompt" not in mapping and "prompt" not in record and "instruction" in record:
        prompt = str(record.get("instruction") or "")
        extra = record.get("input")
        if isinstance(extra, str) and extra.strip():
            prompt = f"{prompt}\n\n{extra}"
        pc, cc = prompt, record.get(mapping.get("completion", "output"))
        columns = ("instruction", mapping.get("completion", "output"))
    else:
        columns = (_col(mapping, "prompt", record), _col(mapping, "completion", record))
        pc, cc = record.get(columns[0]), record.get(columns[1])
    for value, column in ((pc, columns[0]), (cc, columns[1])):
        if not isinstance(value, str) or not value.strip():
            return None, [DataIssue(row_no, "missing or empty value", column)]
    return {"prompt": pc, "completion": cc}, []


def _turns(value: object) -> tuple[list[dict], str | None]:
    if not isinstance(value, list) or not value:
        return [], "expected a non-empty list of chat turns"
    turns = []
    for i, turn in enumerate(value, start=1):
        if not isinstance(turn, dict):
            return [], f"turn {i} is not an object"
        if "from" in turn and "role" not in turn:  # ShareGPT
            role = _SHAREGPT_ROLES.get(str(turn.get("from")).lower())
            content = turn.get("value")
        else:
            role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            return [], f"turn {i} has unknown role {role!r} (use system, user, assistant)"
        if not isinstance(content, str):
            return [], f"turn {i} has no text content"
        if role == "assistant" and not content.strip():
            return [], f"turn {i} is an empty assistant reply"
        turns.append({"role": role, "content": content})
    if not any(t["role"] == "assistant" for t in turns):
        return [], "the conversation has no assistant turn, so there is nothing to learn"
    return turns, None


def require_trainable(data: LoadedData) -> None:
    """Raise when errors would make training wrong; the message names the first few rows."""
    errors = data.errors
    if not errors:
        return
    shown = "; ".join(str(e) for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    raise DataError(f"{data.path.name}: {len(errors)} problem row(s): {shown}{more}",
                    "Fix or remove those rows, then train again")
