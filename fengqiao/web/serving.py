"""Serving the web app: ``fengqiao web`` (one process, or several uvicorn workers against
one PostgreSQL) and the web half of ``fengqiao serve``. This and the scheduler read the
wall clock; ``--now`` fixes where the app's clock starts, and it runs on from there."""

from __future__ import annotations

import gc
import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from uvicorn.supervisors import Multiprocess

from fengqiao.context import Context
from fengqiao.logs import configure_logging
from fengqiao.web.app import create_app
from fengqiao.web.config import RulesInForce, Web
from workflows.db import refresh_statistics
from workflows.errors import BadInput
from workflows.settings import load_settings

if TYPE_CHECKING:
    from scheduler import EmbeddedEngine

__all__ = [
    "WebServer",
    "app_from_environment",
    "bind",
    "serve_beside",
    "serve_web",
    "settle",
    "web_of",
]

log = structlog.get_logger(__name__)


def _wall() -> datetime:
    return datetime.now(UTC)


def web_of(ctx: Context) -> Web:
    """The app's settings from a command's: the database (refused if not initialised; on
    SQLite its planner statistics refreshed), the rules in force, the clock (``--now``
    running on), the zone, HTTPS."""
    offset = (ctx.now - _wall()) if ctx.fixed else None

    def clock() -> datetime:
        return _wall() + offset if offset is not None else _wall()

    refresh_statistics(ctx.engine)  # the planner's, for the queue's filters (SQLite)
    return Web(
        engine=ctx.engine,
        rules=RulesInForce(ctx.engine, ctx.policy),
        clock=clock,
        zone=ctx.zone,
        https=ctx.settings.https,
    )


def settle() -> None:
    """Before the first request: what was loaded to start (the libraries, the rules, the
    calendar) moves out of the garbage collector's sight (``gc.freeze``). A full collection
    over it took about 80 ms, and one in seven requests paid for it (bench/web.py)."""
    gc.collect()
    gc.freeze()


def app_from_environment() -> Any:
    """The app of the ``FENGQIAO_*`` settings: what each uvicorn worker process builds."""
    settings = load_settings()
    configure_logging(fmt=settings.log_format, level=settings.log_level or "info")
    app = create_app(web_of(Context(settings)))
    settle()
    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one), or one clear line why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio sets TCP_NODELAY only on connections of a socket
    # that says it is TCP, and without it every answer on a kept-alive connection waited
    # ~40 ms for the client's delayed ACK (Nagle's algorithm holding the body back).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class WebServer:
    """uvicorn serving the app on a bound socket, in the calling thread, until stopped."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        self.sock = sock
        config = uvicorn.Config(app, log_config=None, access_log=False, server_header=False)
        self.server = uvicorn.Server(config)

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def run(self) -> None:
        self.server.run(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True


def serve_web(
    ctx: Context, *, host: str, port: int, workers: int, ready: Callable[[str], None]
) -> int:
    """``fengqiao web``: one process serving the app, or ``workers`` uvicorn workers (each
    builds the app from the same settings; stateless, sessions are in the database)."""
    web = web_of(ctx)  # refused here, once, if the database is not ready
    sock = bind(host, port)
    if workers == 1:
        server = WebServer(create_app(web), sock)
        settle()

        def _stop(signum: int, _frame: Any) -> None:  # uvicorn hands its signals on to this
            log.info("signal_received", signal=signal.Signals(signum).name)
            server.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        ready(server.address)
        server.run()
        return 0
    for name, value in (
        ("FENGQIAO_DB", ctx.settings.db),
        ("FENGQIAO_RULES", str(ctx.settings.rules) if ctx.settings.rules else None),
        ("FENGQIAO_NOW", ctx.now.isoformat() if ctx.fixed else None),
    ):
        if value is not None:
            os.environ[name] = value
    config = uvicorn.Config(
        "fengqiao.web.serving:app_from_environment",
        factory=True,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    host_, port_ = sock.getsockname()[:2]
    ready(f"http://{host_}:{port_}")
    Multiprocess(config, sockets=[sock]).run()
    return 0


def serve_beside(
    ctx: Context, embedded: EmbeddedEngine, *, host: str, port: int, ready: Callable[[str], None]
) -> int:
    """``fengqiao serve``: the scheduler and the web app in one process, until SIGTERM or
    SIGINT, or until the scheduler stops (its lock lost); then both shut down cleanly."""
    web = web_of(ctx)
    sock = bind(host, port)  # a port in use is refused before the lock is taken

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        embedded.stopped.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        embedded.start()
    except BaseException:
        sock.close()
        raise
    server = WebServer(create_app(web), sock)
    settle()

    def watch() -> None:  # the scheduler stopped (a signal, its lock lost): so does the app
        embedded.stopped.wait()
        server.stop()

    threading.Thread(target=watch, daemon=True, name="web-stopper").start()
    ready(server.address)
    try:
        server.run()  # uvicorn hands the signals it caught on to _stop once it has stopped
    finally:
        embedded.stop()
    return 0
