"""Who owes what: targets, the responsible person or unit, the supervisors one level up,
and what an acknowledgement answers for."""

from __future__ import annotations

import pytest

from models.targets import Target, answered_by, one_level_up, owner, responsible
from models.values import Level, Role, UnitPath

PATH = UnitPath(village="33010101", township="330101", county="330100")


def test_a_target_reads_back_what_it_writes() -> None:
    for text in ("person:wang", "unit:330101"):
        assert str(Target.parse(text)) == text
    assert Target.parse("person:wang") == Target.of_person("wang")
    assert Target.of_unit("330101").is_person is False


@pytest.mark.parametrize("text", ["wang", "person:", "group:x", ""])
def test_anything_else_is_not_a_target(text: str) -> None:
    with pytest.raises(ValueError, match="is not a target"):
        Target.parse(text)


def test_at_village_the_assignee_is_responsible_else_the_unit_it_was_reported_at() -> None:
    kwargs = {"level": Level.village, "reported_unit": "3301010101", "unit": "33010101"}
    assert responsible(assignee="wang", **kwargs) == Target.of_person("wang")  # type: ignore[arg-type]
    assert responsible(assignee=None, **kwargs) == Target.of_unit("3301010101")  # type: ignore[arg-type]


def test_above_village_the_supervisors_of_the_responsible_unit_are_whoever_is_assigned() -> None:
    found = responsible(level=Level.township, assignee="wang", reported_unit="x", unit="330101")
    assert found == Target.of_unit("330101")


def test_the_half_month_review_is_the_townships_and_the_inspection_the_countys() -> None:
    common = {"level": Level.village, "assignee": "wang", "reported_unit": "33010101", "path": PATH}
    assert owner("township", **common) == Target.of_unit("330101")  # type: ignore[arg-type]
    assert owner("county", **common) == Target.of_unit("330100")  # type: ignore[arg-type]
    assert owner("responsible", **common) == Target.of_person("wang")  # type: ignore[arg-type]


def test_one_level_up_from_a_village_is_the_township_and_nothing_is_above_the_county() -> None:
    assert one_level_up(Target.of_person("wang"), PATH) == Target.of_unit("330101")
    assert one_level_up(Target.of_unit("3301010101"), PATH) == Target.of_unit("330101")
    assert one_level_up(Target.of_unit("330101"), PATH) == Target.of_unit("330100")
    assert one_level_up(Target.of_unit("330100"), PATH) is None


def test_a_mediator_acknowledges_only_for_themselves() -> None:
    waiting = [Target.of_person("wang"), Target.of_unit("33010101")]
    given = answered_by("wang", role=Role.mediator, unit="33010101", path=PATH, waiting=waiting)
    assert given == {Target.of_person("wang")}


def test_a_township_supervisor_acknowledges_for_everything_below_the_county() -> None:
    waiting = [Target.of_person("wang"), Target.of_unit("3301010101"), Target.of_unit("330100")]
    given = answered_by("li", role=Role.supervisor, unit="330101", path=PATH, waiting=waiting)
    assert given == {
        Target.of_person("li"),
        Target.of_unit("330101"),
        Target.of_person("wang"),
        Target.of_unit("3301010101"),
    }


def test_the_county_supervisor_acknowledges_for_everything_and_an_unknown_person_for_nothing_more() -> (
    None
):
    waiting = [Target.of_person("wang"), Target.of_unit("330100")]
    county = answered_by("chen", role=Role.supervisor, unit="330100", path=PATH, waiting=waiting)
    assert county >= set(waiting)
    assert answered_by("ghost", role=None, unit=None, path=PATH, waiting=waiting) == {
        Target.of_person("ghost")
    }
