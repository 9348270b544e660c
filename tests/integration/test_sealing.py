"""The parties' data at rest: sealed in the database (none of it in the file in clear),
found by phone or ID number through its keyed hash within one's scope, and its key rotated
without losing a party."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from models.sealing import Keyring
from models.values import Actor
from rules.policy import Policy
from tests.support.db import load_county
from workflows.db import make_engine, migrate
from workflows.errors import BadInput
from workflows.keys import KEY_ENV, KEY_FILE_ENV
from workflows.recording import NewDispute, report_dispute
from workflows.sealing import prune_keys, rotate_keys
from workflows.views import dispute_view, find_by_party

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
PARTIES = [
    {"name": "欧阳春花", "role": "申请人", "phone": "13812345678", "id_number": "11010519491231002X",
     "address": "上林村十二号"},
    {"name": "司马秋实", "phone": "0575-87654321"},
]  # fmt: skip
IN_CLEAR = ("欧阳春花", "司马秋实", "13812345678", "87654321", "11010519491231002X", "上林村十二号")


def _report(engine: Engine, policy: Policy, unit: str = "3301010101", *, by: str = "wang") -> int:
    return report_dispute(
        engine=engine,
        policy=policy,
        now=NOW,
        actor=Actor(by),
        dispute=NewDispute(
            unit=unit, risk="low", category="邻里", title="排水沟", at=NOW, parties=PARTIES
        ),
    )


def _file_bytes(database: Path) -> bytes:
    """The database file and its write-ahead log, as they are on disk."""
    return b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))


def test_the_database_file_holds_none_of_the_parties_data_in_clear(
    policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)  # a SQLite file's own key, made beside it
    database = tmp_path / "fengqiao.db"
    engine = make_engine(f"sqlite:///{database}")
    migrate(engine)
    load_county(engine)
    dispute = _report(engine, policy)
    shown = dispute_view(engine=engine, dispute_id=dispute, now=NOW, zone=SHANGHAI)
    assert shown["parties"][0]["name"] == "欧阳春花"  # opened for whoever may see it
    key = tmp_path / "fengqiao.db.key"
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600
    engine.dispose()
    stored = _file_bytes(database)
    assert b"fq1:" in stored  # the sealed value is there
    for plain in IN_CLEAR:
        assert plain.encode() not in stored, plain
    with sqlite3.connect(database) as connection:  # what anyone reading the file sees
        (raw,) = connection.execute("SELECT parties FROM disputes").fetchone()
    assert raw.startswith('"fq1:') and "欧阳" not in raw
    again = make_engine(f"sqlite:///{database}")  # another process, the same key file
    assert (
        dispute_view(engine=again, dispute_id=dispute, now=NOW, zone=SHANGHAI)["parties"]
        == (shown["parties"])
    )
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "another.key"))
    tmp_path.joinpath("another.key").write_text(Keyring.generate().to_text())
    with pytest.raises(ValueError, match="which the keyring does not hold"):
        dispute_view(
            engine=make_engine(f"sqlite:///{database}"), dispute_id=dispute, now=NOW, zone=SHANGHAI
        )


def test_a_dispute_is_found_by_a_partys_phone_or_id_number_within_ones_scope(
    org_engine: Engine, policy: Policy
) -> None:
    ours = _report(org_engine, policy)
    theirs = _report(org_engine, policy, "3301010201")  # 下林村: not the grid worker zhao's
    found = find_by_party(engine=org_engine, viewer=None, zone=SHANGHAI, phone="138 1234 5678")
    assert [d["id"] for d in found] == [theirs, ours]  # newest first; spaces as typed
    by_id = find_by_party(
        engine=org_engine, viewer=None, zone=SHANGHAI, id_number="11010519491231002x"
    )
    assert len(by_id) == 2
    from workflows.access import viewer_of
    from workflows.db import reading

    with reading(org_engine) as session:
        wang = viewer_of(session, "wang")
    assert [d["id"] for d in find_by_party(engine=org_engine, viewer=wang, zone=SHANGHAI,
                                           phone="0575-87654321")] == [ours]  # fmt: skip
    assert find_by_party(engine=org_engine, viewer=None, zone=SHANGHAI, phone="13900000000") == []
    with pytest.raises(BadInput, match="^phone: not a phone number"):
        find_by_party(engine=org_engine, viewer=None, zone=SHANGHAI, phone="12345")


def test_rotating_the_key_seals_every_party_again_and_pruning_drops_the_old_key(
    policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    key = tmp_path / "data.key"
    key.write_text(Keyring.generate().to_text())
    monkeypatch.setenv(KEY_FILE_ENV, str(key))
    url = f"sqlite:///{tmp_path / 'fengqiao.db'}"
    engine = make_engine(url)
    migrate(engine)
    load_county(engine)
    first = _report(engine, policy)
    with engine.begin() as connection:  # a row kept before sealing began, in clear
        connection.execute(
            text("UPDATE disputes SET parties = :p WHERE id = :id"),
            {"p": '[{"name": "旧数据", "phone": "13700001111"}]', "id": first},
        )
    second = _report(engine, policy)
    old = Keyring.from_text(key.read_text(), where="key")
    with pytest.raises(BadInput, match="still sealed with no key"):
        prune_keys(engine=engine, url=url)
    rotated = rotate_keys(engine=engine, url=url)
    assert rotated.disputes == 2 and rotated.kept == 1
    new = Keyring.from_text(key.read_text(), where="key")
    assert new.current == rotated.key != old.current and old.current in new.keys
    with sqlite3.connect(tmp_path / "fengqiao.db") as connection:
        stored = [row[0] for row in connection.execute("SELECT parties FROM disputes")]
    assert all(value.startswith(f'"fq1:{new.current}:') for value in stored)
    path, dropped = prune_keys(engine=make_engine(url), url=url)
    assert dropped == [old.current] and set(Keyring.from_text(key.read_text(), where="k").keys) == {
        new.current
    }
    fresh = make_engine(url)
    assert dispute_view(engine=fresh, dispute_id=first, now=NOW, zone=SHANGHAI)["parties"] == [
        {"name": "旧数据", "phone": "13700001111"}
    ]
    assert [d["id"] for d in find_by_party(engine=fresh, viewer=None, zone=SHANGHAI,
                                           phone="13700001111")] == [first]  # fmt: skip
    assert len(find_by_party(engine=fresh, viewer=None, zone=SHANGHAI, phone="13812345678")) == 1
    assert second


def test_a_key_given_itself_cannot_be_rotated(policy: Policy, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fengqiao.db'}"
    engine = make_engine(url)
    migrate(engine)
    with pytest.raises(BadInput, match="keep it in a file"):
        rotate_keys(engine=engine, url=url)


def test_parties_stored_before_sealing_began_are_sealed_by_init_with_the_current_key(
    policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflows.sealing import in_clear, seal_in_clear

    monkeypatch.delenv(KEY_ENV)  # the database file's own key
    database = tmp_path / "fengqiao.db"
    engine = make_engine(f"sqlite:///{database}")
    migrate(engine)
    load_county(engine)
    first, second = _report(engine, policy), _report(engine, policy)
    with engine.begin() as connection:  # as an earlier version kept it
        connection.execute(
            text("UPDATE disputes SET parties = :p WHERE id = :id"),
            {"p": '[{"name": "旧数据", "phone": "13700001111"}]', "id": first},
        )
    assert in_clear(engine) == 1
    assert seal_in_clear(engine) == 1 and in_clear(engine) == 0
    assert seal_in_clear(engine) == 0  # nothing left to do
    engine.dispose()
    assert "旧数据".encode() not in _file_bytes(database)
    again = make_engine(f"sqlite:///{database}")
    assert dispute_view(engine=again, dispute_id=first, now=NOW, zone=SHANGHAI)["parties"] == [
        {"name": "旧数据", "phone": "13700001111"}
    ]
    assert [d["id"] for d in find_by_party(engine=again, viewer=None, zone=SHANGHAI,
                                           phone="13700001111")] == [first]  # fmt: skip
    assert (
        len(dispute_view(engine=again, dispute_id=second, now=NOW, zone=SHANGHAI)["parties"]) == 2
    )
