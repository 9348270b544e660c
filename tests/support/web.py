"""The web app in a test: on a database, at a time the test sets and moves on, signed in
as the people of the org file through the real sign-in form."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from fengqiao.web import Web, create_app
from fengqiao.web.serving import WebServer, bind
from models.values import OPERATOR
from rules.policy import Policy
from tests.support.db import load_county
from workflows.accounts import set_password
from workflows.db import make_engine, migrate

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Site:
    """The app of ``engine``; ``site.now`` is its clock."""

    def __init__(self, engine: Engine, policy: Policy, now: datetime, *, https: bool = False):
        self.engine, self.policy, self.now, self.https = engine, policy, now, https
        self.app = create_app(
            Web(
                engine=engine,
                rules=lambda: policy,
                clock=lambda: self.now,
                zone=policy.zone,
                https=https,
            )
        )

    def client(self) -> TestClient:
        base = "https://testserver" if self.https else "http://testserver"
        return TestClient(self.app, base_url=base, follow_redirects=False)

    def account(self, person: str, password: str = PASSWORD) -> None:
        set_password(
            engine=self.engine, now=self.now, actor=OPERATOR, person=person, password=password
        )

    def visitor(self) -> Visitor:
        return Visitor(self.client())

    def signed_in(self, person: str, password: str = PASSWORD) -> Visitor:
        """A browser signed in as ``person`` (given an account first)."""
        self.account(person, password)
        visitor = self.visitor()
        response = visitor.sign_in(person, password)
        assert response.status_code == 303, response.text
        return visitor


def site_on(tmp_path: Path, policy: Policy, org: Path, now: datetime) -> Site:
    """The app of a fresh SQLite database in ``tmp_path`` holding the org file ``org``."""
    engine = make_engine(f"sqlite:///{tmp_path / 'fengqiao.db'}")
    migrate(engine)
    load_county(engine, org)
    return Site(engine, policy, now)


class Visitor:
    """One browser: its cookies, and the CSRF secret of the last page it read."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf: str | None = None

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def sign_in(self, username: str, password: str, *, next: str = "/") -> Any:
        self.get("/login")
        response = self.client.post(
            "/login",
            data={
                "username": username,
                "password": password,
                "csrf": self.csrf or "",
                "next": next,
            },
        )
        self.csrf = None  # that was the sign-in form's; the session's comes with its pages
        return response

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> Any:
        """A form posted as the pages post it: with the session's secret, unless told."""
        if csrf and self.csrf is None:
            self.get("/tasks")
        fields = dict(data or {})
        if csrf:
            fields["csrf"] = self.csrf
        return self.client.post(path, data=fields, **kwargs)

    def api(self, method: str, path: str, *, csrf: bool = True, **kwargs: Any) -> Any:
        """A call of the JSON API with the session cookie (and its header, unless told)."""
        if csrf and self.csrf is None:
            self.get("/tasks")
        headers = dict(kwargs.pop("headers", {}))
        if csrf:
            headers["X-CSRF-Token"] = self.csrf or ""
        return self.client.request(method, f"/api/v1{path}", headers=headers, **kwargs)


def bearer(client: TestClient, token: str, method: str, path: str, **kwargs: Any) -> Any:
    """A call of the JSON API with an API token, no cookie."""
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return client.request(method, f"/api/v1{path}", headers=headers, **kwargs)


class LiveSite:
    """``site`` served for real by uvicorn on a loopback port, in a thread, for a browser."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.server = WebServer(site.app, bind("127.0.0.1", 0))
        self.url = self.server.address
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="live-site")

    def __enter__(self) -> LiveSite:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web app did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop()
        self.thread.join(timeout=10)
