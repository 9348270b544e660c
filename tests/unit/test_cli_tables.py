"""How the command line lines up its tables, and says the demo's warnings: pure."""

from __future__ import annotations

import structlog

from fengqiao.demo import noted_warnings
from fengqiao.render import table, width


def test_a_chinese_character_takes_two_columns_and_a_combining_mark_none() -> None:
    assert (width("abc"), width("东溪镇"), width("e\u0301"), width("ＡＢ")) == (3, 6, 1, 4)


def test_columns_line_up_on_the_widest_value_counting_chinese_as_two_columns() -> None:
    lines = table(
        [["1", "东溪镇第一村", "due x"], ["12", "a", "due y"]],
        header=["id", "unit", "due"],
        right={0},
    )
    assert lines == [
        "id  unit          due",
        " 1  东溪镇第一村  due x",
        "12  a             due y",
    ]


def test_a_table_without_rows_or_header_is_no_lines() -> None:
    assert table([]) == []


def test_the_demo_keeps_a_calendar_warning_as_one_sentence_instead_of_logging_it() -> None:
    with noted_warnings() as notes:
        log = structlog.get_logger("rules.calendar")
        log.warning("calendar_year_unknown", year=2027, fallback="weekends")
        log.info("something_else")
    assert len(notes) == 1
    assert "does not cover 2027" in notes[0] and "{" not in notes[0]
