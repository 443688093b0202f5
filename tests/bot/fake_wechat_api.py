"""A fake WeChat API (access token + customer-service send) on 127.0.0.1, for the gateway's outbound path.

It runs an aiohttp server on its own event loop in its own thread, so it answers whether the caller is a sync test,
an async test (whose loop must stay free to run the gateway), or wechatpy's blocking client in a worker thread.

Endpoints, shaped like ``https://api.weixin.qq.com``:

* ``GET /cgi-bin/token?grant_type=client_credential&appid=..&secret=..`` -> ``{"access_token", "expires_in"}``
* ``POST /cgi-bin/message/custom/send?access_token=..`` with ``{"touser", "msgtype", "text": {"content"}}``
  -> ``{"errcode": 0, "errmsg": "ok"}``, or what :attr:`FakeWeChatAPI.mode` / :attr:`FakeWeChatAPI.script` says.

wechatpy 1.8.18 needs two things from a gateway pointing it here: ``WeChatClient.API_BASE_URL`` =
:attr:`FakeWeChatAPI.api_base_url`, and an overridden ``fetch_access_token``, because wechatpy hard-codes
``https://api.weixin.qq.com/cgi-bin/token`` there (and fetches the token with no timeout at all).

Example::

    with FakeWeChatAPI() as api:
        api.script = ["45015", "ok"]        # first send refused, the next accepted, then api.mode again
        ...                                 # gateway sends
        assert api.wait_for(2)[-1]["text"]["content"] == "..."
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import threading
import time
from collections import Counter
from types import TracebackType
from typing import Any, Final

from aiohttp import web

MODES: Final = ("ok", "45015", "timeout", "error", "http500")
"""What a send is answered with:

* ``ok``: ``{"errcode": 0}``, the message is delivered.
* ``45015``: WeChat's "response out of time limit or subscription is canceled" (the user's 48-hour window for
  customer-service messages is closed). wechatpy raises ``WeChatClientException`` (errcode 45015), not
  ``APILimitedException`` (that is 45009).
* ``timeout``: wait :attr:`FakeWeChatAPI.delay` seconds, then answer ok *and count the message delivered*: like
  WeChat, a send whose answer the client gave up on may still have reached the user.
* ``error``: ``{"errcode": -1, "errmsg": "system error"}``, WeChat's "system busy, retry later".
* ``http500``: HTTP 500 with a non-JSON body; wechatpy raises ``WeChatClientException`` with errcode ``None``.
"""

TOKEN_TTL: Final = 7200

_ERRORS: Final[dict[str, tuple[int, str]]] = {
    "45015": (45015, "response out of time limit or subscription is canceled"),
    "error": (-1, "system error"),
}


def _error(errcode: int, errmsg: str) -> web.Response:
    # WeChat reports API errors as HTTP 200 + errcode, never as HTTP statuses.
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


class FakeWeChatAPI:
    """A WeChat API server for one official account; see the module docstring and :data:`MODES`.

    ``appid`` / ``secret``: when given, the token endpoint refuses others (40013 / 40125), as WeChat does.
    ``port=0`` picks a free port on :meth:`start`; :attr:`port` then keeps it, so ``stop(); start()`` comes back on
    the same port (an "API restarted" test). State (issued tokens, records) survives a restart; :meth:`reset`
    clears the records.

    Every attribute may be read or set from any thread.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        appid: str | None = None,
        secret: str | None = None,
        mode: str = "ok",
        delay: float = 2.0,
        token_delay: float = 0.0,
    ) -> None:
        self.port = port
        self.appid = appid
        self.secret = secret
        self.delay = delay
        """Seconds a ``timeout``-mode send waits before answering (cut short by :meth:`stop`)."""
        self.token_delay = token_delay
        """Seconds the token endpoint waits before answering: wechatpy's token fetch has no timeout, so this
        shows whether the gateway bounds the whole call (e.g. ``asyncio.wait_for`` around the worker thread)."""
        self._mode = "ok"
        self.mode = mode
        self._script: list[str] = []
        # One lock for everything the server thread writes and tests read; the condition lets wait_for sleep.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._received: list[dict[str, Any]] = []
        self._delivered: list[dict[str, Any]] = []
        self._outcomes: Counter[str] = Counter()
        self._token_requests = 0
        self._tokens: set[str] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # ----- configuration -----------------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """How sends are answered once :attr:`script` is used up; one of :data:`MODES`."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {value!r}")
        self._mode = value

    @property
    def script(self) -> list[str]:
        """Modes for the next sends, one consumed per send (in order) before falling back to :attr:`mode`.

        The live list: ``api.script.append("ok")`` works. Sends refused for a bad access token consume nothing.
        """
        return self._script

    @script.setter
    def script(self, value: list[str]) -> None:
        bad = [mode for mode in value if mode not in MODES]
        if bad:
            raise ValueError(f"script modes must be among {MODES}, not {bad}")
        with self._lock:
            self._script = list(value)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the stand-in for ``https://api.weixin.qq.com`` (known after :meth:`start`)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base_url(self) -> str:
        """What ``WeChatClient.API_BASE_URL`` must be (wechatpy appends endpoints like ``message/custom/send``)."""
        return f"{self.url}/cgi-bin/"

    @property
    def token_url(self) -> str:
        """The access-token endpoint, which wechatpy does not derive from ``API_BASE_URL``."""
        return f"{self.url}/cgi-bin/token"

    # ----- records -----------------------------------------------------------------------------------------------

    @property
    def received(self) -> list[dict[str, Any]]:
        """Every custom/send body that was a JSON object, in order, whatever it was answered (a copy)."""
        with self._lock:
            return list(self._received)

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The bodies answered ``errcode 0`` (``ok``, and ``timeout`` once its delay is over): what the user got."""
        with self._lock:
            return list(self._delivered)

    @property
    def outcomes(self) -> Counter[str]:
        """Sends per outcome: a mode name, or ``"40001"`` (bad token), ``"41001"`` (no token), ``"47001"`` (body
        not a JSON object) (a copy)."""
        with self._lock:
            return Counter(self._outcomes)

    @property
    def token_requests(self) -> int:
        """How many times the token endpoint was called (refused calls included)."""
        with self._lock:
            return self._token_requests

    def expire_tokens(self) -> None:
        """Invalidate every issued token: the next send gets 40001, and wechatpy refetches and retries once."""
        with self._lock:
            self._tokens.clear()

    def reset(self) -> None:
        """Forget received/delivered sends, outcomes and the token-request count (tokens stay valid)."""
        with self._lock:
            self._received.clear()
            self._delivered.clear()
            self._outcomes.clear()
            self._token_requests = 0

    def wait_for(self, n: int, timeout: float = 5.0, *, delivered: bool = False) -> list[dict[str, Any]]:
        """Block until at least ``n`` sends were received (or, with ``delivered=True``, delivered); return them all.

        Raises ``TimeoutError`` naming what did arrive. Blocks the calling thread: from an async test, run it with
        ``await asyncio.to_thread(api.wait_for, n)`` so the gateway's loop keeps running.
        """
        records = self._delivered if delivered else self._received
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(records) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    what = "delivered" if delivered else "received"
                    raise TimeoutError(f"{len(records)} of {n} sends {what} after {timeout}s: {records!r}")
                self._changed.wait(left)
            return list(records)

    # ----- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> FakeWeChatAPI:
        """Bind 127.0.0.1:``port`` (a free one if 0) and serve from a background thread; returns ``self``.

        Binding happens here, in the caller's thread, so "address in use" raises ``OSError`` right away.
        """
        if self._thread is not None:
            raise RuntimeError("FakeWeChatAPI is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # SO_REUSEADDR lets a restart re-bind the port while the last run's connections sit in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self.port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._serve, args=(loop, sock, ready, failure), name=f"fake-wechat-api:{self.port}", daemon=True
        )
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise RuntimeError("FakeWeChatAPI failed to start") from failure[0]
        self._loop, self._thread = loop, thread
        return self

    def _serve(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        """Thread body: set the site up, tell start() how it went, run until stop() stops the loop."""
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._setup(sock))
        except BaseException as exc:  # handed to start(), which raises it in the caller's thread
            failure.append(exc)
            sock.close()
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _setup(self, sock: socket.socket) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        self._stopping = asyncio.Event()
        # A short shutdown_timeout: stop() must not wait out a client that keeps a connection open.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def _shutdown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()  # wakes handlers sleeping in timeout mode, so cleanup need not wait them out
        if self._runner is not None:
            await self._runner.cleanup()  # closes the listening socket too

    def stop(self) -> None:
        """Stop serving and close the port; a no-op if not running. :meth:`start` may be called again."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            self._loop = self._thread = None
            self._runner = self._stopping = None

    def __enter__(self) -> FakeWeChatAPI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # ----- handlers (run on the server thread's loop) ------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds`` unless stop() comes first."""
        if seconds <= 0 or self._stopping is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _token(self, request: web.Request) -> web.Response:
        with self._lock:
            self._token_requests += 1
        await self._pause(self.token_delay)
        query = request.query
        if query.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if not query.get("appid") or (self.appid is not None and query["appid"] != self.appid):
            return _error(40013, "invalid appid")
        if not query.get("secret") or (self.secret is not None and query["secret"] != self.secret):
            return _error(40125, "invalid appsecret")
        token = "FAKE_ACCESS_TOKEN_" + secrets.token_hex(16)
        with self._lock:
            self._tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": TOKEN_TTL})

    async def _send(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        token = request.query.get("access_token")
        with self._changed:
            if isinstance(body, dict):
                self._received.append(body)
            if not token:
                outcome = "41001"
            elif token not in self._tokens:
                outcome = "40001"
            elif not isinstance(body, dict):
                outcome = "47001"
            else:
                outcome = self._script.pop(0) if self._script else self._mode
            self._outcomes[outcome] += 1
            self._changed.notify_all()
        if outcome == "41001":
            return _error(41001, "access_token missing")
        if outcome == "40001":
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if outcome == "47001":
            return _error(47001, "data format error")
        if outcome not in MODES:  # appended to the live script list, so the setter never saw it
            return web.Response(status=500, text=f"FakeWeChatAPI: unknown scripted mode {outcome!r}")
        if outcome == "http500":
            return web.Response(status=500, text="500 Internal Server Error")
        if outcome in _ERRORS:
            return _error(*_ERRORS[outcome])
        if outcome == "timeout":
            await self._pause(self.delay)
        with self._changed:
            self._delivered.append(body)
            self._changed.notify_all()
        return web.json_response({"errcode": 0, "errmsg": "ok"})
