"""The web app on a province (``bench/generate.py --size province``: 1M open disputes, 100
counties of 20 townships of 20 villages): the server time of the pages a supervisor opens,
keyset pages against OFFSET, and events recorded through the API by 8 concurrent clients.
Prints a table; nothing is asserted.

    .venv/bin/python bench/web.py [--sqlite PATH] [--postgres URL] [--generate] [--runs 40]

Each request is made once untimed first (its database pages read into memory), then timed.
Server time is measured around each request to the app in the same process (Starlette's
test client: the app's work, without a network or uvicorn's parsing). The concurrent
writers, threads of this process each with an API token of its own, talk HTTP on loopback to
``fengqiao web`` itself, run with one uvicorn process and then two. With
``--generate`` the province is first generated into the targets (replacing what is there),
else they must hold one.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine  # noqa: E402
from sqlmodel import col, func, select  # noqa: E402

from bench.generate import SIZES, fresh_postgres, generate  # noqa: E402
from fengqiao.logs import configure_logging  # noqa: E402
from fengqiao.web import Web, create_app  # noqa: E402
from fengqiao.web.auth import SESSION_COOKIE  # noqa: E402
from fengqiao.web.serving import settle  # noqa: E402
from models.tables import Dispute, DisputeEvent, Person, Unit  # noqa: E402
from models.values import OPERATOR, Role, UnitLevel  # noqa: E402
from rules.policy import Policy, load_policy  # noqa: E402
from workflows.access import viewer_of  # noqa: E402
from workflows.accounts import issue_token, set_password, sign_in  # noqa: E402
from workflows.changes import DISPUTES  # noqa: E402
from workflows.db import make_engine, reading, refresh_statistics  # noqa: E402
from workflows.views import queue_view  # noqa: E402
from workflows.views.queue import QueueFilters as Filters  # noqa: E402
from workflows.views.queue import _item, _narrowed  # noqa: E402

FENGQIAO = str(Path(sys.executable).with_name("fengqiao"))
NOW = datetime.fromisoformat("2026-11-16T09:00+08:00")  # generate.py's default
PASSWORD = "bench-password"
WRITERS = 8
DEEP_PAGE, DEEP_LIMIT = 1_000, 10  # page 1,000 of a county's queue, 10 a page
Row = tuple[str, list[float], str]


def _ms(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000, ordered[-1] * 1000


def _timed(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


class Bench:
    def __init__(self, url: str, runs: int, seed: int) -> None:
        self.url, self.runs, self.rng = url, runs, random.Random(seed)
        self.engine: Engine = make_engine(url)
        refresh_statistics(self.engine)  # as `fengqiao web` does at start
        self.policy: Policy = load_policy()
        self.web = Web(
            engine=self.engine,
            rules=lambda: self.policy,
            clock=lambda: NOW,
            zone=self.policy.zone,
            https=False,
        )
        self.app = create_app(self.web)
        settle()  # as `fengqiao web` does before its first request
        self.rows: list[Row] = []

    # -- people ---------------------------------------------------------------------------

    def _supervisors(self, level: UnitLevel, count: int) -> list[str]:
        with reading(self.engine) as session:
            people = session.exec(
                select(Person.id)
                .join(Unit, col(Unit.code) == col(Person.unit_code))
                .where(col(Person.role) == Role.supervisor, col(Unit.level) == level)
                .order_by(col(Person.id))
            ).all()
        return self.rng.sample(list(people), min(count, len(people)))

    def _client(self, person: str) -> TestClient:
        """A test client with ``person``'s session cookie (signed in through the service)."""
        set_password(engine=self.engine, now=NOW, actor=OPERATOR, person=person, password=PASSWORD)
        signed = sign_in(
            engine=self.engine, now=NOW, username=person, password=PASSWORD, address="bench"
        )
        client = TestClient(self.app, follow_redirects=False)
        client.cookies.set(SESSION_COOKIE, signed.token)
        return client

    def measure(self, what: str, calls: list[Callable[[], Any]], target: str = "") -> None:
        for call in calls:
            call()  # warm, each once: templates compiled, the database's pages in memory
        self.rows.append((what, [_timed(call) for call in calls], target))

    def _get(self, client: TestClient, path: str) -> Callable[[], Any]:
        def call() -> Any:
            response = client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
            return response

        return call

    # -- the pages ------------------------------------------------------------------------

    def pages(self) -> None:
        townships = [self._client(p) for p in self._supervisors(UnitLevel.township, 20)]
        counties = [self._client(p) for p in self._supervisors(UnitLevel.county, 5)]

        def spread(clients: list[TestClient], path: str) -> list[Callable[[], Any]]:
            return [self._get(clients[i % len(clients)], path) for i in range(self.runs)]

        self.measure("township queue, page 1 (/queue)", spread(townships, "/queue"), "100")
        self.measure(
            "township queue, page 1 (API, 50)",
            spread(townships, "/api/v1/disputes?limit=50"),
            "100",
        )
        self.measure(
            "township queue, overdue high risk (/queue)",
            spread(townships, "/queue?risk=high&overdue=1"),
            "100",
        )
        self.measure("county queue, page 1 with counts (/queue)", spread(counties, "/queue"), "150")
        self.measure("county header count (/overdue)", spread(counties, "/overdue"), "150")
        self.measure("township escalations (/escalations)", spread(townships, "/escalations"))

        pages: list[tuple[TestClient, str]] = []
        for client in townships:  # the disputes each supervisor sees on their first page
            items = client.get("/api/v1/disputes?limit=50").json()["items"]
            pages += [(client, f"/disputes/{item['id']}") for item in items]
        chosen = [self.rng.choice(pages) for _ in range(self.runs)]
        self.measure("dispute page (/disputes/ID)", [self._get(c, p) for c, p in chosen], "50")
        self.measure(
            "dispute JSON (/api/v1/disputes/ID)",
            [self._get(c, "/api/v1" + p) for c, p in chosen],
            "50",
        )
        self._deep(counties[0])

    def _deep(self, client: TestClient) -> None:
        """Page 1,000 of a county's queue, 10 a page: by its keyset cursor, and by the same
        query with OFFSET (both as the view function runs them, and the cursor over HTTP)."""
        cursor = None
        for walked in range(1, DEEP_PAGE):
            suffix = f"&cursor={cursor}" if cursor else ""
            cursor = client.get(f"/api/v1/disputes?limit={DEEP_LIMIT}{suffix}").json()["next"]
            if cursor is None:
                print(f"  (the county has only {walked} pages of {DEEP_LIMIT})", file=sys.stderr)
                return
        person = client.get("/api/v1/me").json()["person"]
        with reading(self.engine) as session:
            viewer = viewer_of(session, person)
        path = f"/api/v1/disputes?limit={DEEP_LIMIT}&cursor={cursor}"
        keyset = self._get(client, path)
        by_key = keyset().json()["items"]
        by_offset = self._offset_page(viewer, (DEEP_PAGE - 1) * DEEP_LIMIT)
        assert [i["id"] for i in by_key] == [i["id"] for i in by_offset], "pages differ"
        self.measure(
            f"county page {DEEP_PAGE:,} of {DEEP_LIMIT}, keyset (API)", [keyset] * self.runs, "100"
        )

        def view_keyset() -> Any:
            return queue_view(
                engine=self.engine,
                policy=self.policy,
                viewer=viewer,
                now=NOW,
                zone=self.policy.zone,
                cursor=cursor,
                limit=DEEP_LIMIT,
            )

        offset = (DEEP_PAGE - 1) * DEEP_LIMIT
        self.measure("  the same, queue_view by keyset", [view_keyset] * self.runs)
        self.measure(
            f"  the same query by OFFSET {offset:,}",
            [lambda: self._offset_page(viewer, offset)] * self.runs,
        )

    def _offset_page(self, viewer: Any, offset: int) -> list[dict[str, Any]]:
        with reading(self.engine) as session:
            query = (
                _narrowed(session, viewer, Filters(), NOW)
                .order_by(DISPUTES.c.risk_rank, DISPUTES.c.attention_at, DISPUTES.c.id)
                .offset(offset)
                .limit(DEEP_LIMIT)
            )
            rows = session.execute(query).all()
        return [_item(r, policy=self.policy, now=NOW, zone=self.policy.zone) for r in rows]

    # -- writers --------------------------------------------------------------------------

    def writers(self, events_each: int) -> list[str]:
        """8 clients, each a village's mediator with an API token, recording ``check``
        events on its village's disputes through uvicorn; then the same on one dispute."""
        with reading(self.engine) as session:
            villages = session.exec(
                select(Dispute.unit_code)
                .where(
                    col(Dispute.level) == "village",
                    col(Dispute.status).in_(["reported", "mediating"]),
                    col(Dispute.unit_code).in_(
                        select(Person.unit_code).where(col(Person.role) == Role.mediator)
                    ),
                )
                .group_by(col(Dispute.unit_code))
                .having(func.count() >= 5)
                .limit(200)
            ).all()
            chosen = self.rng.sample(list(villages), WRITERS)
            work: list[tuple[str, list[int]]] = []
            for village in chosen:
                person = session.exec(
                    select(Person.id).where(
                        col(Person.unit_code) == village, col(Person.role) == Role.mediator
                    )
                ).first()
                ids = session.exec(
                    select(Dispute.id).where(
                        col(Dispute.unit_code) == village,
                        col(Dispute.status).in_(["reported", "mediating"]),
                    )
                ).all()
                assert person is not None
                work.append((person, [int(i) for i in ids if i is not None]))
        tokens = {
            person: issue_token(engine=self.engine, now=NOW, actor=OPERATOR, person=person)
            for person, _ in work
        }
        lines = []
        one = [(work[0][0], work[0][1][:1])] * WRITERS
        for workers in (1, 2):
            with self._served(workers) as address:
                lines.append(self._write(address, tokens, work, events_each, workers, "many"))
                lines.append(self._write(address, tokens, one, events_each, workers, "one"))
        return lines

    @contextmanager
    def _served(self, workers: int) -> Iterator[str]:
        """``fengqiao web`` itself, in its own process(es), on a free port."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
        env.update(FENGQIAO_DB=self.url, FENGQIAO_NOW=NOW.isoformat(), FENGQIAO_LOG_LEVEL="warning")
        process = subprocess.Popen(
            [FENGQIAO, "web", "--port", "0", "--workers", str(workers)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            found = re.search(r"on (http://[\d.]+:\d+)", process.stdout.readline())
            if not found:
                raise RuntimeError("fengqiao web did not start")
            address = found.group(1)
            for _ in range(200):  # the workers take a moment to import and build the app
                try:
                    if httpx.get(f"{address}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield address
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    def _checks(self, people: list[str]) -> int:
        """The ``check`` events of ``people`` (the events the sweep records as it goes, such
        as an escalation fallen due, are not the writers')."""
        with reading(self.engine) as session:
            return int(
                session.exec(
                    select(func.count())
                    .select_from(DisputeEvent)
                    .where(col(DisputeEvent.kind) == "check", col(DisputeEvent.actor).in_(people))
                ).one()
            )

    def _write(
        self,
        address: str,
        tokens: dict[str, str],
        work: list[tuple[str, list[int]]],
        each: int,
        workers: int,
        disputes: str,
    ) -> str:
        people = sorted({person for person, _ in work})
        before = self._checks(people)
        answers: list[list[int]] = [[] for _ in work]
        seconds: list[list[float]] = [[] for _ in work]

        def client(n: int) -> None:
            person, ids = work[n]
            headers = {"Authorization": f"Bearer {tokens[person]}"}
            with closing(httpx.Client(base_url=address, headers=headers, timeout=60)) as http:
                for i in range(each):
                    began = time.perf_counter()
                    response = http.post(
                        f"/api/v1/disputes/{ids[i % len(ids)]}/events",
                        json={"kind": "check", "data": {"note": f"bench {n}-{i}"}},
                    )
                    seconds[n].append(time.perf_counter() - began)
                    answers[n].append(response.status_code)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(len(work))]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        codes = [code for codes in answers for code in codes]
        created = codes.count(201)
        stored = self._checks(people) - before
        p50, p95, _ = _ms([s for each_ in seconds for s in each_])
        kept = "none lost" if stored == created else "LOST"
        return (
            f"| {WRITERS} clients, {disputes} dispute{'s' if disputes == 'many' else ''}, "
            f"{workers} process{'es' if workers > 1 else ''} | {len(codes):,} posts, "
            f"{created:,} × 201, {stored:,} events stored ({kept}) "
            f"| {created / wall:,.0f} events/s | p50 {p50:.0f} ms, p95 {p95:.0f} ms |"
        )

    def table(self, label: str, writers: list[str]) -> None:
        print(f"\n{label}: {self.url.split('@')[-1]}")
        print("| request | p50 ms | p95 ms | max ms | p95 target ms |")
        print("|---|---:|---:|---:|---:|")
        for what, samples, target in self.rows:
            p50, p95, top = _ms(samples)
            print(f"| {what} | {p50:.1f} | {p95:.1f} | {top:.1f} | {target} |")
        print("\n| `fengqiao web`, 8 concurrent API clients | answers | rate | latency |")
        print("|---|---|---:|---|")
        for line in writers:
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", help="a SQLite file holding the province")
    parser.add_argument("--postgres", help="a PostgreSQL database holding the province")
    parser.add_argument("--generate", action="store_true", help="generate the province first")
    parser.add_argument("--runs", type=int, default=40, help="requests timed per row")
    parser.add_argument("--events", type=int, default=50, help="events each writer records")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not (args.sqlite or args.postgres):
        parser.error("name a target: --sqlite PATH and/or --postgres URL")
    configure_logging(fmt="json", level="warning")
    targets = []
    if args.sqlite:
        path = Path(args.sqlite)
        if args.generate:
            for stale in path.parent.glob(path.name + "*"):
                stale.unlink()
        targets.append(("SQLite", f"sqlite:///{path}"))
    if args.postgres:
        url = args.postgres
        if args.generate:
            from sqlalchemy.engine import make_url

            url = fresh_postgres(url, make_url(url).database or "fengqiao_bench_web")
        targets.append(("PostgreSQL", url))
    for label, url in targets:
        if args.generate:
            open_disputes, due = SIZES["province"]
            began = time.perf_counter()
            generate(url, open_disputes=open_disputes, due=due, now=NOW, seed=args.seed)
            print(
                f"{label}: province generated in {time.perf_counter() - began:.0f} s",
                file=sys.stderr,
            )
        bench = Bench(url, args.runs, args.seed)
        bench.pages()
        writers = bench.writers(args.events)
        bench.table(label, writers)


if __name__ == "__main__":
    main()
