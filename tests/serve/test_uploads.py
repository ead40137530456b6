"""Reading an upload: the size limit while the body arrives, a stalled body, the client's file name."""

from __future__ import annotations

import asyncio

import pytest

from asr.serve.uploads import HttpError, read_body, safe_name


class Body:
    """A request whose body comes in `chunks`, waiting `pause_s` before the last."""

    def __init__(self, chunks: list[bytes], pause_s: float = 0.0, declared: int | None = None):
        self.chunks, self.pause_s = chunks, pause_s
        self.headers = {} if declared is None else {"content-length": str(declared)}

    async def stream(self):
        for i, chunk in enumerate(self.chunks):
            if i == len(self.chunks) - 1:
                await asyncio.sleep(self.pause_s)
            yield chunk


def status_of(request, limit: int, idle_s: float = 5.0) -> int:
    try:
        asyncio.run(read_body(request, limit, idle_s))
    except HttpError as e:
        return e.status
    return 200


def test_limits_while_reading():
    assert asyncio.run(read_body(Body([b"ab", b"cd"]), 4)) == b"abcd"
    assert status_of(Body([b"ab", b"cde"]), 4) == 413  # no length declared: counted as it comes
    assert status_of(Body([b"ab"], declared=2 ** 30), 4) == 413  # declared: refused before reading
    assert status_of(Body([b"ab"], declared="12x"), 100) == 400
    assert status_of(Body([b"ab", b"cd"], pause_s=2.0), 100, idle_s=0.1) == 408  # stalled


@pytest.mark.parametrize("name,safe", [("/etc/passwd", "passwd"), ("C:\\x\\a b.wav", "a b.wav"),
                                       ("<script>.wav", "_script_.wav"), ("", "upload")])
def test_safe_name(name, safe):
    assert safe_name(name) == safe
