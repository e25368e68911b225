"""Training files → rows in one of TRL's three shapes, with every problem named by row.

Shapes: {"messages": [{role, content}, ...]}, {"prompt": str, "completion": str}, {"text": str}, and pairs of
answers for preference training: {"prompt": ..., "chosen": ..., "rejected": ...}, all three as text or all three
as lists of chat turns (a file with only chosen/rejected conversations has its shared first turns as the prompt).
The CLI, the worker and the Data tab all go through `load_dataset_file`, so a file that
previews fine trains fine.
"""

from __future__ import annotations

import contextlib
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lora_studio.dataset_files import ROW_KEY, DataIssue, place, read_file
from lora_studio.errors import DataError
from lora_studio.messages import text

__all__ = [
    "DataIssue",
    "LoadedData",
    "detect_format",
    "load_dataset_file",
    "require_trainable",
    "split_indices",
    "training_rows",
]

FORMATS = ("messages", "prompt_completion", "text", "preference")
ROLES = ("system", "user", "assistant", "tool")
_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
    "function_call": "assistant",
    "observation": "tool",
}
# The column each shape reads, under the name a mapping uses for it.
_DEFAULT_COLUMNS = {
    "messages": "messages",
    "prompt": "prompt",
    "completion": "completion",
    "text": "text",
    "chosen": "chosen",
    "rejected": "rejected",
}
PAIR = ("chosen", "rejected")


class FormatUnknownError(DataError):
    """The format cannot be detected from the columns: the user has to map them."""

    def __init__(self, message: str, hint: str, columns: list[str]) -> None:
        super().__init__(message, hint)
        self.columns = columns


@dataclass
class LoadedData:
    path: Path
    format: str
    reason: str
    rows: list[dict]  # normalised rows, each with its source row number under ROW_KEY
    issues: list[DataIssue] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # the file's own columns, for mapping
    records: list[dict] = field(default_factory=list)  # the raw records, for the preview table
    kind: str = "jsonl"
    encoding: str = "utf-8"

    @property
    def errors(self) -> list[DataIssue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[DataIssue]:
        return [i for i in self.issues if i.severity == "warning"]


def detect_format(columns: set[str], mapping: dict | None = None) -> tuple[str, str]:
    """(format, reason) from the columns present, honouring a user's column mapping."""
    mapping = mapping or {}
    if set(PAIR) <= (columns | set(mapping)):
        mapped = [f"{role} ← '{mapping[role]}'" for role in ("prompt", *PAIR) if role in mapping]
        if mapped:
            return "preference", text("rows.reason.mapped", pairs=", ".join(mapped))
        if "prompt" in columns:
            return "preference", text("rows.reason.pairs_of_answers")
        return "preference", text("rows.reason.pairs_of_conversations")
    if "messages" in mapping or "messages" in columns:
        return "messages", (
            text("rows.reason.mapped", pairs=f"messages ← '{mapping['messages']}'")
            if "messages" in mapping
            else text("rows.reason.messages")
        )
    if "conversations" in columns:
        return "messages", text("rows.reason.sharegpt")
    if {"prompt", "completion"} <= (columns | set(mapping)):
        if {"prompt", "completion"} & set(mapping):
            pairs = (
                f"prompt ← '{mapping.get('prompt', 'prompt')}', "
                f"completion ← '{mapping.get('completion', 'completion')}'"
            )
            return "prompt_completion", text("rows.reason.mapped", pairs=pairs)
        return "prompt_completion", text("rows.reason.prompt_completion")
    if {"instruction", "output"} <= columns:
        return "prompt_completion", text("rows.reason.alpaca")
    if "text" in mapping or "text" in columns:
        return "text", (
            text("rows.reason.mapped", pairs=f"text ← '{mapping['text']}'")
            if "text" in mapping
            else text("rows.reason.text")
        )
    shown = ", ".join(sorted(columns)) or text("rows.no_columns")
    raise FormatUnknownError(
        text("rows.unknown_format", columns=shown), text("rows.unknown_format_hint"), sorted(columns)
    )


def load_dataset_file(
    path: str | Path, fmt: str = "auto", mapping: dict | None = None, max_bytes: int | None = None
) -> LoadedData:
    """Read, detect, normalise and check a training file."""
    mapping = {k: v for k, v in (mapping or {}).items() if v}
    result = read_file(path, max_bytes)
    records, issues = result.records, list(result.issues)
    if not records:
        raise DataError(
            text("rows.no_usable_rows", name=Path(path).name, count=len(issues)),
            text("rows.first_problem", problem=issues[0]) if issues else text("datafile.empty_hint"),
        )
    seen_columns: dict[str, None] = {}
    for record in records:
        seen_columns.update(dict.fromkeys(k for k in record if k != ROW_KEY))
    columns = list(seen_columns)
    missing = [f"{role} → '{col}'" for role, col in mapping.items() if col not in seen_columns]
    if missing:
        raise DataError(
            text("rows.missing_columns", missing=", ".join(missing)),
            text("rows.missing_columns_hint", columns=", ".join(columns)),
        )
    reason = text("rows.reason.chosen")
    if fmt == "auto":
        try:
            fmt, reason = detect_format(set(columns), mapping)
        except FormatUnknownError as exc:
            exc.columns = columns  # in the file's own order, for the mapping dropdowns
            raise
        if result.kind == "txt":
            reason = text("rows.reason.plain_text", note=result.note)
    elif fmt not in FORMATS:
        raise DataError(
            text("rows.unknown_format_name", format=fmt),
            text("rows.unknown_format_name_hint", choices=", ".join(("auto", *FORMATS))),
        )
    unit = "line" if result.kind == "jsonl" else "row"
    rows = []
    for record in records:
        row, row_issues = _normalise(record, fmt, mapping)
        for issue in row_issues:
            issue.unit = unit
        issues.extend(row_issues)
        if row is not None:
            rows.append({**row, ROW_KEY: record[ROW_KEY]})
    issues.extend(_duplicates(rows, unit))
    return LoadedData(Path(path), fmt, reason, rows, issues, columns, records, result.kind, result.encoding)


def _duplicates(rows: list[dict], unit: str) -> list[DataIssue]:
    first: dict[str, int] = {}
    issues = []
    for row in rows:
        key = json.dumps({k: v for k, v in row.items() if k != ROW_KEY}, sort_keys=True, ensure_ascii=False)
        if key in first:
            message = text("rows.duplicate", place=place(unit, first[key]))
            issues.append(DataIssue(row[ROW_KEY], message, severity="warning", unit=unit))
        else:
            first[key] = row[ROW_KEY]
    return issues


def split_indices(n_rows: int, eval_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic (train, eval) row indices; at least one row on each side when eval is asked for."""
    if eval_fraction <= 0 or n_rows == 0:
        return list(range(n_rows)), []
    if n_rows < 2:
        raise DataError(text("rows.too_few_to_split", count=n_rows), text("rows.too_few_to_split_hint"))
    n_eval = min(max(1, round(n_rows * eval_fraction)), n_rows - 1)
    order = list(range(n_rows))
    random.Random(seed).shuffle(order)
    return sorted(order[n_eval:]), sorted(order[:n_eval])


def training_rows(rows: list[dict]) -> list[dict]:
    """Rows as TRL reads them: without LoRA Studio's bookkeeping keys."""
    return [{k: v for k, v in row.items() if k != ROW_KEY} for row in rows]


def _col(mapping: dict, name: str, record: dict) -> str:
    if name in mapping:
        return mapping[name]
    if name == "messages" and "messages" not in record and "conversations" in record:
        return "conversations"
    return _DEFAULT_COLUMNS[name]


def _normalise(record: dict, fmt: str, mapping: dict) -> tuple[dict | None, list[DataIssue]]:
    row_no = record.get(ROW_KEY)
    if fmt == "messages":
        column = _col(mapping, "messages", record)
        turns, problem = _turns(record.get(column))
        if problem:
            return None, [DataIssue(row_no, problem, column)]
        return {"messages": turns}, []
    if fmt == "prompt_completion":
        return _prompt_completion(record, mapping, row_no)
    if fmt == "preference":
        return _preference(record, mapping, row_no)
    column = _col(mapping, "text", record)
    value = record.get(column)
    if not isinstance(value, str) or not value.strip():
        return None, [DataIssue(row_no, text("rows.empty_text"), column)]
    return {"text": value}, []


def _prompt_completion(record: dict, mapping: dict, row_no: int | None) -> tuple[dict | None, list[DataIssue]]:
    pc: Any  # checked to be a non-empty str below
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
            return None, [DataIssue(row_no, text("rows.empty_value"), column)]
    return {"prompt": pc, "completion": cc}, []


def _preference(record: dict, mapping: dict, row_no: int | None) -> tuple[dict | None, list[DataIssue]]:
    """A pair of answers to one prompt. Text stays text; when any part is a list of chat turns, all three become
    chat turns (a text prompt is the user's turn, a text answer the assistant's), as TRL wants them alike."""
    columns = {role: _col(mapping, role, record) for role in ("prompt", *PAIR)}
    values = {role: record.get(column) for role, column in columns.items()}
    for role in PAIR:
        value = values[role]
        if (
            value is None
            or (isinstance(value, (str, list)) and not value)
            or (isinstance(value, str) and not value.strip())
        ):
            empty = text("rows.empty_chosen") if role == "chosen" else text("rows.empty_rejected")
            return None, [DataIssue(row_no, empty, columns[role])]
    for role, value in values.items():
        if isinstance(value, str) and value.lstrip().startswith("["):  # chat turns stored as JSON text (CSV)
            with contextlib.suppress(json.JSONDecodeError):  # else: text that starts with a bracket
                values[role] = json.loads(value)
    prompt = values["prompt"]
    if prompt is None or (isinstance(prompt, str) and not prompt.strip()):
        chosen, rejected = values["chosen"], values["rejected"]
        if isinstance(chosen, list) and isinstance(rejected, list):
            return _implicit_pair(chosen, rejected, columns, row_no)
        return None, [DataIssue(row_no, text("rows.no_prompt"), columns["prompt"])]
    if all(isinstance(values[r], str) for r in ("prompt", *PAIR)):
        row = {"prompt": prompt, "chosen": values["chosen"], "rejected": values["rejected"]}
    else:
        row = {}
        for role in ("prompt", *PAIR):
            turns, problem = _pair_turns(values[role], "user" if role == "prompt" else "assistant")
            if problem:
                return None, [DataIssue(row_no, f"{role}: {problem}", columns[role])]
            row[role] = turns
        if not any(t["role"] == "user" for t in row["prompt"]):
            return None, [DataIssue(row_no, text("rows.prompt_no_user"), columns["prompt"])]
    return row, _pair_warnings(row, row_no, columns["chosen"])


def _implicit_pair(chosen: list, rejected: list, columns: dict, row_no: int | None) -> tuple[dict | None, list]:
    """Two whole conversations: the turns they share are the prompt, what follows are the two answers."""
    both = []
    for role in PAIR:
        turns, problem = _turns(chosen if role == "chosen" else rejected)
        if problem:
            return None, [DataIssue(row_no, f"{role}: {problem}", columns[role])]
        both.append(turns)
    shared = 0
    while shared < min(map(len, both)) and both[0][shared] == both[1][shared]:
        shared += 1
    prompt = both[0][:shared]
    if not any(t["role"] == "user" for t in prompt) or shared == len(both[0]) or shared == len(both[1]):
        problem = (
            text("rows.no_shared_start")
            if not prompt
            else (
                text("rows.shared_no_user")
                if not any(t["role"] == "user" for t in prompt)
                else text("rows.answer_missing")
            )
        )
        return None, [DataIssue(row_no, problem, columns["chosen"])]
    row = {"prompt": prompt, "chosen": both[0][shared:], "rejected": both[1][shared:]}
    return row, _pair_warnings(row, row_no, columns["chosen"])


def _pair_turns(value: object, default_role: str) -> tuple[list[dict], str | None]:
    if isinstance(value, str):
        return ([{"role": default_role, "content": value}], None) if value.strip() else ([], text("rows.turn_empty"))
    return _turns(value, require_assistant=default_role == "assistant")


def _pair_warnings(row: dict, row_no: int | None, column: str) -> list[DataIssue]:
    if row["chosen"] == row["rejected"]:
        return [DataIssue(row_no, text("rows.same_answers"), column, severity="warning")]
    return []


def _turns(value: object, require_assistant: bool = True) -> tuple[list[dict], str | None]:
    if isinstance(value, str) and value.lstrip().startswith("["):  # chat turns stored as JSON text (CSV)
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            return [], text("rows.turns_bad_json", reason=exc.msg)
    if not isinstance(value, list) or not value:
        return [], text("rows.turns_expected")
    turns = []
    for i, turn in enumerate(value, start=1):
        if not isinstance(turn, dict):
            return [], text("rows.turn_not_object", number=i)
        if "from" in turn and "role" not in turn:  # ShareGPT
            role = _SHAREGPT_ROLES.get(str(turn.get("from")).lower())
            content = turn.get("value")
        else:
            role, content = turn.get("role"), turn.get("content")
        if role not in ROLES:
            return [], text("rows.turn_bad_role", number=i, role=repr(role))
        if not isinstance(content, str):
            return [], text("rows.turn_no_text", number=i)
        if role == "assistant" and not content.strip():
            return [], text("rows.turn_empty_reply", number=i)
        turns.append({"role": role, "content": content})
    if require_assistant and not any(t["role"] == "assistant" for t in turns):
        return [], text("rows.no_assistant")
    return turns, None


def require_trainable(data: LoadedData) -> None:
    """Raise when errors would make training wrong; the message names the first few rows."""
    errors = data.errors
    if not errors:
        return
    shown = "; ".join(str(e) for e in errors[:3])
    more = text("rows.more", count=len(errors) - 3) if len(errors) > 3 else ""
    raise DataError(
        text("rows.blocking", name=data.path.name, count=len(errors), shown=shown, more=more),
        text("rows.blocking_hint"),
    )
