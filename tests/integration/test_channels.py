"""The chat and SMS channels, proven on loopback: DingTalk, WeCom and Feishu robots and a JSON
SMS gateway receive, on a real HTTP server on 127.0.0.1, the request Fengqiao sends them. The
robots' hosts are never contacted: their requests are sent, over a real socket, to the server
on loopback instead (plain HTTP there, with the robot's host in ``Host``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

import pytest
import requests.adapters
from sqlalchemy import Engine
from sqlmodel import col, select

from models.tables import OutboxMessage
from rules.policy import Policy
from tests.support.db import load_county
from tests.support.recording import SHANGHAI, record, report
from workflows.db import reading
from workflows.messaging import apprise_send, deliver
from workflows.messaging.delivery import robot_send

MONDAY_9 = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
TITLE, BODY = "【枫桥】新纠纷待签收 #7", "纠纷 #7（邻里纠纷，高风险）已交办给您，请签收"
SECRET = "SEC0f3a9c2b7d"  # DingTalk's secrets are "SEC" and hex; the token is hex
DINGTALK = f"dingtalk://{SECRET}@9a8b7c6d5e4f/13800000000"
WECOM = "wecombot://5a1d2c3e-0b9f-4e7a-8c6d-1f2e3d4c5b6a"
FEISHU = "feishu://0e1f2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b"
REFUSALS = {  # what each platform answers, with HTTP 200, when it does not take a message
    "dingtalk": {"errcode": 310000, "errmsg": "sign not match"},
    "wecom": {"errcode": 93000, "errmsg": "invalid webhook url"},
    "feishu": {"code": 19024, "msg": "Key Words Not Found", "data": {}},
}


@dataclass
class Request:
    """One request as the server on loopback received it."""

    aimed_at: str  # the URL the sender built, before it was turned to loopback
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class Platform:
    """An HTTP server on loopback standing in for DingTalk, WeCom, Feishu and an SMS gateway;
    it answers every request with ``status`` and ``answer``."""

    def __init__(self) -> None:
        self.received: list[Request] = []
        self.aimed: list[str] = []
        self.status, self.answer = 200, {"errcode": 0, "errmsg": "ok"}
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                direct = f"http://{self.headers['Host']}{self.path}"  # not turned here
                aimed = platform.aimed.pop(0) if platform.aimed else direct
                body = self.rfile.read(int(self.headers["Content-Length"]))
                platform.received.append(
                    Request(
                        aimed,
                        self.command,
                        parts.path,
                        parse_qs(parts.query),
                        dict(self.headers),
                        body,
                    )
                )
                answer = json.dumps(platform.answer).encode()
                self.send_response(platform.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])

    def loopback(self, url: str) -> str:
        """``url`` turned to this server, remembered as where the sender aimed."""
        self.aimed.append(url)
        parts = urlsplit(url)
        return urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))

    @property
    def sms_gateway(self) -> str:
        """A JSON SMS gateway on this server, as an Apprise URL: the mobile number added
        to the payload, the text renamed ``content``, the gateway's key in a header."""
        return (
            f"json://127.0.0.1:{self.port}/sms/send"
            "?+X-Api-Key=k3y&:mobile=13800000000&:message=content"
        )


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """The server on loopback; every request to another host, by urllib (the robots) or
    by requests (Apprise), goes to it instead: nothing leaves the machine."""
    server = Platform()
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    urlopen, adapter_send = urllib.request.urlopen, requests.adapters.HTTPAdapter.send

    def to_loopback(request: urllib.request.Request, *args: Any, **kwargs: Any) -> Any:
        if urlsplit(request.full_url).hostname != "127.0.0.1":
            request.add_unredirected_header("Host", urlsplit(request.full_url).netloc)
            request.full_url = server.loopback(request.full_url)
        return urlopen(request, *args, **kwargs)

    def adapter_to_loopback(
        adapter: requests.adapters.HTTPAdapter, request: Any, **kwargs: Any
    ) -> Any:
        if urlsplit(request.url).hostname != "127.0.0.1":
            request.headers["Host"] = urlsplit(request.url).netloc
            request.url = server.loopback(request.url)
        return adapter_send(adapter, request, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", to_loopback)
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", adapter_to_loopback)
    yield server
    server.server.shutdown()
    server.server.server_close()


def _dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk's 加签, as its documentation says: HMAC-SHA256 keyed by the secret of
    "timestamp\\nsecret", in base64."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def test_a_dingtalk_robot_receives_the_title_and_text_in_chinese_and_mentions_the_mobile(
    platform: Platform,
) -> None:
    assert apprise_send("dingtalk://9a8b7c6d5e4f/13800000000", TITLE, BODY)
    (sent,) = platform.received
    assert sent.aimed_at == "https://oapi.dingtalk.com/robot/send?access_token=9a8b7c6d5e4f"
    assert (sent.method, sent.path, sent.query) == (
        "POST",
        "/robot/send",
        {"access_token": ["9a8b7c6d5e4f"]},
    )
    assert sent.headers["Host"] == "oapi.dingtalk.com"
    assert sent.headers["Content-Type"] == "application/json; charset=utf-8"
    assert sent.json() == {
        "msgtype": "text",
        "text": {"content": f"{TITLE}\n{BODY} @13800000000"},
        "at": {"atMobiles": ["13800000000"], "isAtAll": False},
    }
    assert "【枫桥】".encode() in sent.body  # UTF-8 on the wire, not \\u escapes


def test_dingtalk_robot_with_a_secret_signs_its_request_as_dingtalk_documents(
    platform: Platform,
) -> None:
    moment = MONDAY_9.timestamp()
    assert robot_send(DINGTALK, TITLE, BODY, clock=lambda: moment)
    (sent,) = platform.received
    timestamp = str(int(moment * 1000))  # milliseconds
    assert sent.query == {
        "access_token": ["9a8b7c6d5e4f"],
        "timestamp": [timestamp],
        "sign": [_dingtalk_sign(SECRET, timestamp)],  # decoded once by the server: base64
    }
    raw = urlsplit(sent.aimed_at).query.split("&")
    assert f"sign={quote(_dingtalk_sign(SECRET, timestamp), safe='')}" in raw  # encoded once


def test_a_wecom_robot_receives_the_title_and_text_at_its_key(platform: Platform) -> None:
    assert apprise_send(WECOM, TITLE, BODY)
    (sent,) = platform.received
    assert sent.aimed_at == (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=5a1d2c3e-0b9f-4e7a-8c6d-1f2e3d4c5b6a"
    )
    assert (sent.method, sent.path) == ("POST", "/cgi-bin/webhook/send")
    assert sent.query == {"key": ["5a1d2c3e-0b9f-4e7a-8c6d-1f2e3d4c5b6a"]}
    assert sent.headers["Host"] == "qyapi.weixin.qq.com"
    assert sent.json() == {"msgtype": "text", "text": {"content": f"{TITLE}\n{BODY}"}}


def test_a_feishu_robot_receives_the_title_and_text_at_its_hook(platform: Platform) -> None:
    platform.answer = {"code": 0, "msg": "success", "data": {}}
    assert apprise_send(FEISHU, TITLE, BODY)
    (sent,) = platform.received
    assert sent.aimed_at == (
        "https://open.feishu.cn/open-apis/bot/v2/hook/0e1f2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b"
    )
    assert (sent.method, sent.path, sent.query) == (
        "POST",
        "/open-apis/bot/v2/hook/0e1f2a3b-4c5d-6e7f-8a9b-0c1d2e3f4a5b",
        {},
    )
    assert sent.headers["Host"] == "open.feishu.cn"
    assert sent.json() == {"msg_type": "text", "content": {"text": f"{TITLE}\n{BODY}"}}


def test_an_sms_gateway_receives_the_mobile_title_and_text_as_json_with_its_key(
    platform: Platform,
) -> None:
    assert apprise_send(platform.sms_gateway, TITLE, BODY)
    (sent,) = platform.received
    assert (sent.method, sent.path) == ("POST", "/sms/send")
    assert sent.headers["X-Api-Key"] == "k3y"
    assert sent.headers["Content-Type"] == "application/json"
    payload = sent.json()
    assert {k: payload[k] for k in ("mobile", "title", "content")} == {
        "mobile": "13800000000",
        "title": TITLE,
        "content": BODY,
    }


@pytest.mark.parametrize("channel", sorted(REFUSALS))
def test_a_robot_that_answers_with_its_error_code_has_not_taken_the_message(
    platform: Platform, channel: str
) -> None:
    platform.answer = REFUSALS[channel]
    url = {"dingtalk": DINGTALK, "wecom": WECOM, "feishu": FEISHU}[channel]
    assert not apprise_send(url, TITLE, BODY)
    assert len(platform.received) == 1


@pytest.mark.parametrize("channel", ["dingtalk", "wecom", "feishu", "sms"])
def test_a_channel_answering_http_500_has_not_taken_the_message(
    platform: Platform, channel: str
) -> None:
    platform.status = 500
    url = {"dingtalk": DINGTALK, "wecom": WECOM, "feishu": FEISHU, "sms": platform.sms_gateway}
    assert not apprise_send(url[channel], TITLE, BODY)
    assert len(platform.received) == 1


def test_a_robot_url_that_is_not_one_fails_without_a_request(platform: Platform) -> None:
    assert not apprise_send("dingtalk://not a token/", TITLE, BODY)
    assert not platform.received


@pytest.fixture
def chatty(engine: Engine, tmp_path: Path, platform: Platform) -> Engine:
    """A county whose mediator wang is reached on DingTalk, WeCom, Feishu and by SMS."""
    org = tmp_path / "org.yaml"
    contacts = (
        f'{{dingtalk: "{DINGTALK}", wecom: "{WECOM}", feishu: "{FEISHU}", '
        f'sms: "{platform.sms_gateway}"}}'
    )
    org.write_text(
        "units:\n"
        '  - {code: "330100", name: 县, level: county}\n'
        '  - {code: "330101", name: 镇, level: township, parent: "330100"}\n'
        '  - {code: "33010101", name: 村, level: village, parent: "330101"}\n'
        "people:\n"
        f'  - {{id: wang, name: 王, role: mediator, unit: "33010101", contacts: {contacts}}}\n'
        '  - {id: li, name: 李, role: supervisor, unit: "330101"}\n',
        encoding="utf-8",
    )
    load_county(engine, org)
    return engine


def _assign(engine: Engine, policy: Policy) -> int:
    dispute = report(engine, policy, risk="high", unit="33010101", at=MONDAY_9)
    record(engine, policy, dispute, "assign", MONDAY_9, {"person": "wang"}, by="li")
    return dispute


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with reading(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def test_an_assignment_reaches_the_mediator_on_every_chat_channel_and_by_sms(
    chatty: Engine, policy: Policy, platform: Platform
) -> None:
    dispute = _assign(chatty, policy)
    assert deliver(engine=chatty, policy=policy, now=MONDAY_9).sent == 4
    hosts = sorted(urlsplit(r.aimed_at).netloc for r in platform.received)
    assert hosts == sorted(
        ["oapi.dingtalk.com", "qyapi.weixin.qq.com", "open.feishu.cn", f"127.0.0.1:{platform.port}"]
    )
    assert all(f"#{dispute}" in str(r.json()) for r in platform.received)
    (dingtalk,) = [r for r in platform.received if r.path == "/robot/send"]
    (timestamp,) = dingtalk.query["timestamp"]
    assert dingtalk.query["sign"] == [_dingtalk_sign(SECRET, timestamp)]
    assert "请于" in dingtalk.json()["text"]["content"]
    assert {m.state for m in _outbox(chatty)} == {"sent"}


def test_a_refused_robot_message_stays_in_the_outbox_and_goes_on_the_next_attempt(
    chatty: Engine, policy: Policy, platform: Platform
) -> None:
    _assign(chatty, policy)
    platform.answer = REFUSALS["dingtalk"]  # the robots refuse; a gateway reads only the status
    first = deliver(engine=chatty, policy=policy, now=MONDAY_9)
    assert (first.sent, first.failed) == (1, 3)
    waiting = [m for m in _outbox(chatty) if m.state == "pending"]
    assert sorted(m.channel for m in waiting) == ["dingtalk", "feishu", "wecom"]
    assert {m.attempts for m in waiting} == {1}
    platform.answer = {"errcode": 0, "errmsg": "ok"}
    later = max(m.next_attempt_at for m in waiting)
    assert later > MONDAY_9
    assert deliver(engine=chatty, policy=policy, now=later).sent == 3
    assert {m.state for m in _outbox(chatty)} == {"sent"}
