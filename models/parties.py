"""A dispute's parties (当事人), as a ledger records them: each a name, a role, and how to
reach them, every field checked (an ID number's check digit, a phone's form). Pure.

What a person hands in is normalised: a role given in Chinese (申请人) is kept as its code
(``applicant``), a phone's spaces and dashes are dropped, an ID number's ``x`` is upper case.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

__all__ = [
    "PARTY_ROLES",
    "InvalidParties",
    "id_number_problem",
    "phone_problem",
    "validate_parties",
]

# A role's code, and the words ledgers use for it.
PARTY_ROLES: dict[str, tuple[str, ...]] = {
    "applicant": ("申请人", "申请方"),
    "respondent": ("被申请人", "被申请方"),
    "third_party": ("第三人",),
    "party": ("当事人",),  # a ledger that does not say which side
}
_ROLE_WORDS = {word: code for code, words in PARTY_ROLES.items() for word in words}
_MOST_PARTIES = 1000

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")  # an area code and a number, dashes dropped
_ID = re.compile(r"\d{17}[\dX]")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


class InvalidParties(ValueError):
    """Parties that do not fit the schema: the first problem, ``parties[0].phone: …``."""


def phone_problem(phone: str) -> str | None:
    """Why ``phone`` (spaces and dashes dropped) is not a phone number; None if it is."""
    if _MOBILE.fullmatch(phone) or _LANDLINE.fullmatch(phone):
        return None
    return "not a phone number (a mobile such as 13800138000, or a landline such as 0575-87654321)"


def id_number_problem(number: str) -> str | None:
    """Why ``number`` is not a resident ID number (居民身份证号码, GB 11643: 17 digits and a
    check character); None if it is."""
    if not _ID.fullmatch(number):
        return "not an ID number (17 digits and a check digit or X)"
    total = sum(int(digit) * weight for digit, weight in zip(number, _WEIGHTS, strict=False))
    if _CHECK[total % 11] != number[-1]:
        return "an ID number whose check digit is wrong: a digit is mistyped"
    return None


def _text(value: Any) -> Any:
    """Text as it is typed: a number where text is meant is refused (a phone number stored
    as a number loses its leading zero and reads back wrong)."""
    if isinstance(value, int | float):  # bool too
        raise ValueError("must be text, in quotes")
    return value.strip() if isinstance(value, str) else value


def _phone(value: Any) -> Any:
    value = _text(value)
    if isinstance(value, str):
        value = re.sub(r"[\s\-()（）]", "", value)
        problem = phone_problem(value)
        if problem:
            raise ValueError(problem)
    return value


def _id_number(value: Any) -> Any:
    value = _text(value)
    if isinstance(value, str):
        value = value.upper()
        problem = id_number_problem(value)
        if problem:
            raise ValueError(problem)
    return value


def _role(value: Any) -> Any:
    value = _text(value)
    if isinstance(value, str) and value in _ROLE_WORDS:
        return _ROLE_WORDS[value]
    return value


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("may not contain a NUL character")
    return value


# Text of 1 to so many characters, as typed (trimmed), without NUL.
Name = Annotated[
    str, Field(min_length=1, max_length=100), BeforeValidator(_text), BeforeValidator(_no_nul)
]
Address = Annotated[
    str, Field(min_length=1, max_length=200), BeforeValidator(_text), BeforeValidator(_no_nul)
]


class _Party(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Name
    role: Annotated[
        Literal["applicant", "respondent", "third_party", "party"] | None,
        BeforeValidator(_role),
    ] = None
    phone: Annotated[str | None, BeforeValidator(_phone)] = None
    id_number: Annotated[str | None, BeforeValidator(_id_number)] = None
    address: Address | None = None


def validate_parties(raw: Any) -> list[dict[str, Any]]:
    """The parties as they are kept (fields not given are left out); raise
    :class:`InvalidParties` naming the first problem and where."""
    if not isinstance(raw, list | tuple):
        raise InvalidParties("parties: a list of parties, each with a name")
    if len(raw) > _MOST_PARTIES:
        raise InvalidParties(f"parties: at most {_MOST_PARTIES:,}, got {len(raw):,}")
    parties = []
    for index, party in enumerate(raw):
        if not isinstance(party, dict):
            raise InvalidParties(f"parties[{index}]: a party is an object with a name")
        if any("\x00" in str(key) for key in party):
            raise InvalidParties(
                f"parties[{index}]: a field's name may not contain a NUL character"
            )
        try:
            parsed = _Party.model_validate(party)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            message = (
                "unknown field (a party has name, role, phone, id_number, address)"
                if error["type"] == "extra_forbidden"
                else error["msg"].removeprefix("Value error, ")
            )
            raise InvalidParties(f"parties[{index}].{field}: {message}") from None
        except ValueError as exc:
            raise InvalidParties(f"parties[{index}]: {exc}") from None
        parties.append(parsed.model_dump(exclude_none=True))
    return parties
