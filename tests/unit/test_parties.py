"""A dispute's parties are checked field by field, as a ledger keeps them."""

from __future__ import annotations

from typing import Any

import pytest

from models.parties import InvalidParties, id_number_problem, validate_parties


def test_parties_are_kept_normalised_with_only_the_fields_given() -> None:
    given = [
        {
            "name": " 张三丰 ",
            "role": "申请人",
            "phone": "138 1234-5678",
            "id_number": "33010219800101123x",
        },
        {"name": "李四", "role": "respondent", "phone": "0575-87654321", "address": "枫桥镇上林村"},
        {"name": "王五"},
    ]
    assert validate_parties(given) == [
        {
            "name": "张三丰",
            "role": "applicant",
            "phone": "13812345678",
            "id_number": "33010219800101123X",
        },
        {"name": "李四", "role": "respondent", "phone": "057587654321", "address": "枫桥镇上林村"},
        {"name": "王五"},
    ]


@pytest.mark.parametrize(
    ("parties", "message"),
    [
        ({"anything": [1, 2]}, "parties: a list of parties, each with a name"),
        ([{"anything": [1, 2]}], r"parties\[0\]\.name: Field required"),
        ([{"name": "张三", "anything": 1}], r"parties\[0\]\.anything: unknown field"),
        ([{"name": "张三", "phone": 13812345678}], r"parties\[0\]\.phone: must be text, in quotes"),
        ([{"name": "张三", "phone": "12345"}], r"parties\[0\]\.phone: not a phone number"),
        (
            [{"name": "张三", "id_number": "330102198001011234"}],
            r"parties\[0\]\.id_number: an ID number whose check digit is wrong",
        ),
        (
            [{"name": "张三", "id_number": "3301021980"}],
            r"parties\[0\]\.id_number: not an ID number",
        ),
        ([{"name": "张三", "role": "朋友"}], r"parties\[0\]\.role: Input should be"),
        ([{"name": ""}], r"parties\[0\]\.name: String should have at least 1 character"),
        ([{"name": "x" * 101}], r"parties\[0\]\.name: String should have at most 100 characters"),
        ([{"name": "张\x00"}], r"parties\[0\]\.name: .*NUL"),
        ([{"name": "张三"}, "李四"], r"parties\[1\]: a party is an object with a name"),
    ],
)
def test_a_party_that_does_not_fit_is_refused_naming_the_field(parties: Any, message: str) -> None:
    with pytest.raises(InvalidParties, match=message):
        validate_parties(parties)


def test_an_id_number_is_checked_by_its_check_digit() -> None:
    assert id_number_problem("33010219800101123X") is None
    assert id_number_problem("330100199001011231") is None
    assert "check digit" in (id_number_problem("330100199001011234") or "")
