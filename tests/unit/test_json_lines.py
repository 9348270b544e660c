"""What people hand in as JSON is read within limits, in the encodings offices save in, and
refused with one line that says where, never echoing the value."""

from __future__ import annotations

import pytest

from workflows.errors import BadInput
from workflows.recording.lines import (
    DEEPEST,
    LONGEST_TEXT,
    decode_text,
    loads_limited,
)


def test_a_value_within_the_limits_is_read_as_json() -> None:
    assert loads_limited('{"a": [1, {"b": "c"}], "d": "\\"{["}') == {
        "a": [1, {"b": "c"}],
        "d": '"{[',
    }


def test_a_duplicate_key_is_refused_naming_it() -> None:
    with pytest.raises(BadInput, match=r"^line: duplicate key 'kind'$"):
        loads_limited('{"kind": "check", "data": {}, "kind": "visit"}')
    with pytest.raises(BadInput, match=r"duplicate key 'x'"):
        loads_limited('{"data": {"x": 1, "x": 2}}')


def test_deep_nesting_is_refused_before_parsing_it() -> None:
    deep = "[" * 20_000 + "]" * 20_000
    with pytest.raises(BadInput, match=rf"^--data is nested 20000 deep; at most {DEEPEST}$"):
        loads_limited(deep, what="--data")
    assert loads_limited("[" * DEEPEST + "]" * DEEPEST) is not None


def test_a_long_value_is_refused_without_being_echoed() -> None:
    long = "x" * (LONGEST_TEXT + 1)
    with pytest.raises(BadInput) as refused:
        loads_limited('{"data": {"note": "' + long + '"}}')
    assert (
        str(refused.value)
        == f"data.note: text of {LONGEST_TEXT + 1:,} characters; at most {LONGEST_TEXT:,}"
    )
    huge = '{"note": "' + "x" * 1_000_000 + '"}'
    with pytest.raises(BadInput) as refused:
        loads_limited(huge)
    assert len(str(refused.value)) < 100 and "xxx" not in str(refused.value)


def test_a_long_key_is_refused_with_its_beginning_only() -> None:
    with pytest.raises(BadInput) as refused:
        loads_limited('{"' + "k" * 5000 + '": 1}')
    assert "a key of 5,000 characters" in str(refused.value) and len(str(refused.value)) < 120


def test_invalid_json_says_what_and_where() -> None:
    with pytest.raises(
        BadInput, match=r"^line is not valid JSON: Expecting property name .* at column 2$"
    ):
        loads_limited("{oops")


@pytest.mark.parametrize(
    "data",
    [
        "事件,王调解\n".encode(),
        b"\xef\xbb\xbf" + "事件,王调解\n".encode(),
        "事件,王调解\n".encode("gbk"),
    ],
    ids=["utf-8", "utf-8 with a byte-order mark", "gbk"],
)
def test_text_is_read_in_utf8_with_or_without_a_bom_or_in_gbk(data: bytes) -> None:
    assert decode_text(data, where="f.csv") == "事件,王调解\n"


def test_bytes_that_are_no_text_are_refused_naming_the_first() -> None:
    with pytest.raises(
        BadInput, match=r"^f\.jsonl: not text in UTF-8 or GBK \(byte 0xff at offset 3\)$"
    ):
        decode_text(b"abc\xff\xff\xff", where="f.jsonl")
