"""Bad input, generated: the data loader and config parsing either accept it or refuse it in words.

Every input here is what a user could upload or type (random bytes, JSONL/JSON/CSV of any shape,
YAML configs, `--set` overrides, preset files). The property: no exception escapes except a
StudioError (DataError/ConfigError) with a message and a hint, and what is accepted is usable.
"""

from __future__ import annotations

import csv
import io
import json
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lora_studio import presets
from lora_studio.config import SECTIONS, RunConfig, apply_overrides, field_names
from lora_studio.config_checks import require_valid
from lora_studio.dataset_files import ROW_KEY, SUPPORTED_SUFFIXES
from lora_studio.dataset_rows import FORMATS, load_dataset_file, require_trainable
from lora_studio.errors import ConfigError, DataError, StudioError
from lora_studio.settings import user_presets_dir

# No example database: nothing written into the repository; a failure prints its input to reproduce it.
FUZZ = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Names the loader and the config look for, so generated records often come close to being valid.
KEYS = [
    "messages",
    "conversations",
    "prompt",
    "completion",
    "text",
    "instruction",
    "input",
    "output",
    "role",
    "content",
    "from",
    "value",
    "user",
    "assistant",
    "system",
    "human",
    "gpt",
    "tool",
]
key_names = st.sampled_from(KEYS) | st.text(max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([*KEYS, "", " ", "[", "[{}]", "2001-13-01", "1e400", "nan", "-0"])
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key_names, inner, max_size=4), max_leaves=20
)
records = st.dictionaries(key_names, json_values, max_size=5)
suffixes = st.sampled_from([*SUPPORTED_SUFFIXES, ".dat", ""])


def write(data: bytes, suffix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="fuzz-")) / f"data{suffix}"
    path.write_bytes(data)
    return path


def load_or_refusal(path: Path, fmt: str = "auto", mapping: dict | None = None):
    """The loaded data, or None after checking the refusal is a StudioError that says what to do."""
    try:
        data = load_dataset_file(path, fmt, mapping)
    except StudioError as exc:
        assert isinstance(exc, DataError), type(exc)
        assert exc.message.strip() and exc.hint.strip(), exc
        return None
    assert data.format in FORMATS
    for row in data.rows:  # every accepted row is in one of TRL's shapes
        assert set(row) - {ROW_KEY} in ({"messages"}, {"prompt", "completion"}, {"text"}), row
    for issue in data.issues:
        assert str(issue).strip() and issue.severity in ("error", "warning")
    try:
        require_trainable(data)
    except DataError as exc:
        assert exc.message.strip() and exc.hint.strip()
    return data


@FUZZ
@given(st.binary(max_size=400), suffixes)
def test_random_bytes_of_any_file_kind_are_read_or_refused_in_words(raw, suffix):
    load_or_refusal(write(raw, suffix))


@FUZZ
@given(
    st.binary(max_size=60), st.sampled_from([b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"[", b"{", b"\n"]), suffixes
)
def test_byte_order_marks_and_openers_followed_by_junk(tail, head, suffix):
    load_or_refusal(write(head + tail, suffix))


@FUZZ
@given(st.lists(records | json_values, max_size=6), st.integers(0, 30), st.sampled_from([".jsonl", ".txt", ".dat"]))
def test_jsonl_of_any_shape_with_a_torn_last_line(values, cut, suffix):
    text = "\n".join(json.dumps(v, allow_nan=True) for v in values)
    raw = text.encode()[: max(0, len(text.encode()) - cut)]  # a file cut short while it was written
    load_or_refusal(write(raw, suffix))


@FUZZ
@given(json_values | st.lists(records, max_size=5))
def test_json_documents_of_any_shape(value):
    load_or_refusal(write(json.dumps(value, allow_nan=True).encode(), ".json"))


@FUZZ
@given(
    st.lists(key_names, min_size=1, max_size=4),
    st.lists(
        st.lists(st.text(max_size=15) | st.sampled_from(['[{"role": "user"}]', '"', "\r\n", ",", "\t"]), max_size=5),
        max_size=5,
    ),
    st.sampled_from([",", "\t"]),
    st.booleans(),
)
def test_csv_and_tsv_of_any_shape(header, rows, sep, quote_all):
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)  # rows may be longer or shorter than the header
    load_or_refusal(write(out.getvalue().encode(), ".csv" if sep == "," else ".tsv"))


@FUZZ
@given(
    st.lists(records, min_size=1, max_size=4),
    st.sampled_from(["auto", *FORMATS]),
    st.dictionaries(
        st.sampled_from(["messages", "prompt", "completion", "text"]),
        st.sampled_from(KEYS) | st.text(max_size=5),
        max_size=3,
    ),
)
def test_any_format_and_column_mapping_over_any_records(rows, fmt, mapping):
    raw = "\n".join(json.dumps(r, allow_nan=True) for r in rows).encode()
    load_or_refusal(write(raw, ".jsonl"), fmt, mapping)


# ---- config parsing ---------------------------------------------------------------------------
field_values = (
    json_values
    | st.integers(-(10**400), 10**400)
    | st.sampled_from(
        ["all-linear", "auto", "linear", "cosine", "3e-4", "1e400", "-inf", "nan", ".nan", "0x10", "1_000"]
    )
)
config_dicts = st.dictionaries(
    st.sampled_from(list(SECTIONS)) | st.text(max_size=6),
    st.none()
    | field_values
    | st.dictionaries(
        st.sampled_from([n.split(".")[1] for n in field_names()]) | st.text(max_size=6), field_values, max_size=6
    ),
    max_size=5,
)


def check_config(make) -> RunConfig | None:
    """`make()` builds a config: it is refused with a ConfigError in words, or every problem is listed."""
    try:
        cfg = make()
    except StudioError as exc:
        assert isinstance(exc, ConfigError), type(exc)
        assert exc.message.strip() and exc.hint.strip(), exc
        return None
    issues = cfg.validate()
    for issue in issues:
        assert issue.field in field_names() and issue.message.strip(), issue
    if issues:
        with pytest.raises(ConfigError):
            require_valid(cfg)
        return None
    # An accepted config has finite numbers and survives the YAML round trip the run folder relies on.
    for section in SECTIONS:
        for value in vars(getattr(cfg, section)).values():
            assert not (isinstance(value, float) and not math.isfinite(value)), cfg
    assert RunConfig.from_yaml(cfg.to_yaml()) == cfg
    return cfg


@FUZZ
@given(config_dicts)
def test_config_from_any_dict(data):
    check_config(lambda: RunConfig.from_dict(data, []))


@FUZZ
@given(config_dicts)
def test_config_from_yaml_of_any_dict(data):
    text = yaml.safe_dump(data, allow_unicode=True)
    check_config(lambda: RunConfig.from_yaml(text, []))


@FUZZ
@given(
    st.text(max_size=200)
    | st.sampled_from(
        [
            "model: [",
            "training:\n  seed: 2001-13-01",
            "- 1",
            "lora: 3",
            "data: {columns: {prompt: [1]}}",
            "training: {max_steps: .inf}",
        ]
    )
)
def test_config_from_any_yaml_text(text):
    check_config(lambda: RunConfig.from_yaml(text, []))


@FUZZ
@given(st.binary(max_size=200))
def test_config_file_of_random_bytes(raw):
    check_config(lambda: RunConfig.load(write(raw, ".yaml")))


@FUZZ
@given(
    st.lists(
        st.builds(
            lambda key, value: f"{key}={value}",
            st.sampled_from(field_names()) | st.text(max_size=10),
            st.text(max_size=20) | st.sampled_from(["2001-13-01", "[", "{a: 1}", ".nan", "1e999"]),
        ),
        max_size=4,
    )
    | st.lists(st.text(max_size=20), max_size=3)
)
def test_command_line_overrides(items):
    check_config(lambda: apply_overrides(RunConfig(), items))


@FUZZ
@given(
    st.text(max_size=200)
    | config_dicts.map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    | st.sampled_from(["description: 2001-13-01\nlora: {r: 4}", "lora: {r: 2001-02-30}", "- a", "{", "3"]),
    st.sampled_from(["broken", "mine.v2"]),
)
def test_a_user_preset_file_of_any_content(text, name):
    folder = user_presets_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    listed = {p.name: p for p in presets.list_presets()}  # one bad preset never hides the others
    assert name in listed and "quick-start" in listed
    check_config(lambda: presets.load_preset(name, []))
