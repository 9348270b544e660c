"""Serving the web app: the listening socket."""

from __future__ import annotations

import socket
from contextlib import closing

import pytest

from fengqiao.web.serving import bind
from workflows.errors import BadInput


def test_the_listening_socket_says_it_is_tcp_so_that_answers_are_not_held_back() -> None:
    """asyncio turns Nagle's algorithm off (TCP_NODELAY) only on the connections of a socket
    whose protocol is IPPROTO_TCP; left 0, each answer on a kept-alive connection waited for
    the client's delayed ACK, about 40 ms."""
    with closing(bind("127.0.0.1", 0)) as sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[1] > 0


def test_a_port_in_use_is_one_clear_line() -> None:
    with closing(bind("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(BadInput, match=rf"cannot listen on 127\.0\.0\.1:{port}: "):
            bind("127.0.0.1", port)
