"""WeChat gateway benchmark: text messages per second and p50/p99 latency at 50 concurrent clients.

Humiao's whole ``POST /wechat`` path (timestamp + signature check, DTD refusal, parse, store through the
group-commit writer, classify, knowledge-base answer, conversation policy, reply and outbox rows committed,
passive ``TextReply``) beside a baseline in the same run: a bare aiohttp + wechatpy endpoint that only checks
the signature, parses (``wechatpy.parse_message``) and echoes the content in a ``TextReply``.

Set-up (what makes the two comparable):

* Each server runs in its own process (``multiprocessing`` spawn), on 127.0.0.1, through ``web.AppRunner``
  with no access log, as ``humiao serve`` runs. The full one is ``bot.app.create_app`` on a fresh temporary
  data directory (fresh SQLite database, WAL), loading the classifier and knowledge base itself at start-up.
* With two or more CPUs, both servers are pinned to CPU 0 (``os.sched_setaffinity``; only one of them is
  under load at a time) and the load generator to CPU 1, so the client never competes with the server for
  a core. ``--no-pin`` turns this off. The writer thread shares the full server's core: that is how it runs.
* The load generator is ``--concurrency`` workers, each on its own keep-alive HTTP/1.1 connection (a minimal
  client over asyncio streams, about half as costly per request as aiohttp's client), each a
  distinct WeChat user (openid) sending a cycle of 20 invented Chinese messages (greetings, policy questions
  for the knowledge base, yellow / orange / red help messages), every one with a fresh MsgId, signed the way
  WeChat signs them (``tests/bot/wechat_peer.py``, written from the protocol, not from wechatpy).
* Each measurement: ``--warmup`` seconds of load (discarded), then ``--seconds`` measured. Throughput counts
  replies completed inside the measured window; latencies are of requests sent in it (send to last byte).
  Every response must be 200 and a text reply addressed to the sender (the bare one must echo the content);
  anything else is counted as an error and shown.
* Rounds alternate the endpoints (bare, full; then full, bare; ...) since the machine is noisy; every round
  is printed, then the medians. Client CPU % near 100 would mean the load generator, not the server, limits.
  "server CPU ms/msg" (the server process's CPU time over the window / replies) is the figure least moved by
  other processes sharing the machine; a server CPU % well under 100 means something else took the core.
  Also per round: the kernel's share of the server's CPU, context switches per message (the event loop and
  the writer thread handing the GIL to each other), and the server's garbage-collection pauses in the window
  (``gc.callbacks``): how many, and the longest.

Run: ``python -m bench.gateway [--seconds 8] [--concurrency 50] [--rounds 3] [--aes] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import multiprocessing as mp
import os
import re
import resource
import socket
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wechatpy import parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bench.common import percentile, table
from tests.bot.wechat_peer import Mode, WeChatPeer, WeChatProtocolError, random_aes_key

TOKEN = "bench-token-humiao"
APPID = "wx0123456789abcdef"
ACCOUNT = "gh_humiao"

# A cycle of invented messages; the grades are what the shipped classifier gives them.
MESSAGES = (
    "你好",  # blue greeting
    "您好，请问这里是12355吗？",  # blue
    "未成年人是指多大年纪以下的人？",  # blue, knowledge base
    "我最近压力很大，考试没考好，睡不着",  # yellow
    "家长可以把不满八岁的孩子单独留在家里吗",  # blue, knowledge base
    "班上有几个人一直在群里骂我，还把我拉黑",  # orange
    "在吗？想问点事",  # blue
    "学校发现学生欺凌应该怎么处理",  # blue, knowledge base
    "我爸喝醉了就打我，身上都是伤",  # orange
    "爸妈出去打工，孩子可以托给谁照顾？",  # yellow (policy)
    "有个网友一直让我发裸照，不发就要公开我的聊天记录",  # red
    "网络游戏公司对未成年人有什么限制",  # blue, knowledge base
    "同学老是给我起外号，我不想去学校了",  # yellow
    "谢谢你们，晚安",  # blue
    "继父晚上老是进我房间摸我，我很害怕",  # orange
    "发现邻居家孩子没人管，可以向哪里反映？",  # yellow (policy)
    "我不想活了，药已经准备好了",  # red
    "爸妈天天吵架，我心里很难受",  # yellow
    "现在有人拿着刀在我家门口，我好害怕",  # red
    "我被关在屋里两天没吃饭了，救救我",  # red
)

MS = 1000.0


# ----------------------------------------------------------------------------------------------- servers


def bare_app(token: str) -> web.Application:
    """The baseline: check the signature, parse with wechatpy, echo the content in a TextReply."""

    async def echo(request: web.Request) -> web.Response:
        query = request.query
        try:
            check_signature(token, query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
        except InvalidSignatureException:
            return web.Response(status=403, text="bad signature")
        message = parse_message((await request.read()).decode("utf-8"))
        reply = TextReply(source=message.target, target=message.source, content=message.content)
        return web.Response(text=reply.render(), content_type="application/xml")

    app = web.Application()
    app.router.add_post("/wechat", echo)
    return app


@dataclass(frozen=True, slots=True)
class ServerSpec:
    kind: str  # "bare" or "full"
    data_dir: str
    aes_key: str
    cpu: int | None


def serve(spec: ServerSpec, conn: Connection) -> None:
    """Process entry point: run one server until told to stop; answer "stats" requests on ``conn``.

    The server logs (WARNING and up: every red message logs an alert) go to a file in the data directory, as a
    deployment's would go to its log, instead of flooding the benchmark's output.
    """
    if spec.cpu is not None:
        os.sched_setaffinity(0, {spec.cpu})
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        filename=Path(spec.data_dir) / f"server-{spec.kind}.log",
    )
    gc.callbacks.append(_time_gc)
    asyncio.run(_serve(spec, conn))


GC_PAUSES: list[float] = []  # seconds of each cyclic garbage collection in this server process
_gc_started: list[float] = [0.0]


def _time_gc(phase: str, _info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        GC_PAUSES.append(time.perf_counter() - _gc_started[0])


async def _serve(spec: ServerSpec, conn: Connection) -> None:
    started = time.perf_counter()
    if spec.kind == "bare":
        app = bare_app(TOKEN)
    else:
        from bot.app import create_app
        from bot.settings import Settings

        settings = Settings(
            data_dir=Path(spec.data_dir), wechat_token=TOKEN, wechat_aes_key=spec.aes_key, wechat_appid=APPID
        )
        app = create_app(settings, freeze_heap=True)  # loads the models at start-up, as `humiao serve`
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # runs the cleanup contexts' start-up halves: database, writer, models
    site = web.SockSite(runner, sock, backlog=1024)
    await site.start()
    conn.send(("ready", sock.getsockname()[1], time.perf_counter() - started))
    loop = asyncio.get_running_loop()
    marks: dict[str, int] = {"batch_index": 0}
    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command in ("stats", "rows"):
            conn.send(await _stats(app, marks, full=spec.kind == "full", rows=command == "rows"))
        elif command == "stop":
            await runner.cleanup()  # drains the writer's queued jobs, then stops it
            conn.send("stopped")
            return


async def _stats(app: web.Application, marks: dict[str, int], *, full: bool, rows: bool) -> dict[str, Any]:
    """CPU time of this process; for the full app, the writer's batching since the last call (and row counts)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out: dict[str, Any] = {
        "cpu_s": time.process_time(),
        "sys_s": usage.ru_stime,
        "switches": usage.ru_nvcsw + usage.ru_nivcsw,  # context switches: threads handing the GIL over
        "gc_pauses": GC_PAUSES[marks.get("gc_index", 0) :],  # since the last call: the window, at the second
    }
    marks["gc_index"] = len(GC_PAUSES)
    if not full:  # the bare server never imports the bot package
        return out
    from bot import db
    from bot.db.models import Case, Direction, Message, OutboxItem, OutboxStatus
    from bot.keys import ENGINE, WRITER

    stats = app[WRITER].stats
    sizes = stats.batch_sizes[marks["batch_index"] :]
    marks["batch_index"] = len(stats.batch_sizes)
    out["batch_sizes"] = sizes
    out["max_batch_seen"] = stats.max_batch_seen
    out["failed_commits"] = stats.failed_commits

    def counts(session: Session) -> dict[str, int]:
        def count(*where: Any, model: Any = Message) -> int:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        return {
            "inbound": count(Message.direction == Direction.INBOUND),
            "inbound_handled": count(Message.direction == Direction.INBOUND, Message.handled_at.is_not(None)),
            "outbound": count(Message.direction == Direction.OUTBOUND),
            "cases": count(model=Case),
            "outbox_passive": count(OutboxItem.status == OutboxStatus.PASSIVE, model=OutboxItem),
        }

    if rows:
        out["rows"] = await db.read(app[ENGINE], counts)
    return out


@dataclass
class Server:
    name: str
    process: Any  # multiprocessing's SpawnProcess
    conn: Connection
    url: str
    startup_s: float

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        try:
            self.ask("stop")
        finally:
            self.process.join(15)
            if self.process.is_alive():
                self.process.terminate()


def start_server(name: str, spec: ServerSpec) -> Server:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=serve, args=(spec, child), name=f"bench-{name}", daemon=True)
    process.start()
    child.close()
    if not parent.poll(120):
        process.terminate()
        raise RuntimeError(f"the {name} server did not start within 120 s")
    tag, port, startup_s = parent.recv()
    assert tag == "ready"
    return Server(name, process, parent, f"http://127.0.0.1:{port}/wechat", startup_s)


# ------------------------------------------------------------------------------------------- load generator


@dataclass
class Run:
    """One measured load phase against one endpoint."""

    endpoint: str
    seconds: float
    sent: int = 0  # every request, warm-up included
    ok_total: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # measured window and warm-up alike
    latencies: list[float] = field(default_factory=list)  # requests sent in the measured window
    completed_in_window: int = 0
    client_cpu: float = 0.0  # fraction of one core, measured window
    server_cpu: float = 0.0
    server_sys: float = 0.0  # the part of server_cpu spent in the kernel
    server_switches: int = 0
    gc_pauses: list[float] = field(default_factory=list)
    replies: Counter[str] = field(default_factory=Counter)
    batch_sizes: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.completed_in_window / self.seconds

    @property
    def cpu_ms_per_reply(self) -> float:
        """Server CPU time per reply: unlike msg/s, barely moved by other processes taking the core."""
        return self.server_cpu * self.seconds / self.completed_in_window * MS if self.completed_in_window else 0.0


def reply_kind(content: str) -> str:
    """A coarse label for the full pipeline's reply, to show which paths the load took."""
    if content.startswith("你现在安全吗"):
        return "red safety reply"
    if "《" in content:
        return "cited policy answer"
    if content.startswith("收到，已经补充"):
        return "attached to open case"
    if content.startswith(("谢谢你愿意告诉我们", "谢谢你告诉我们")):
        return "orange/yellow: case opened"
    if content.startswith("你好！我是护苗"):
        return "greeting"
    if "没有找到可靠的答案" in content:
        return "knowledge-base abstention"
    return "other"


def check_reply(peer: WeChatPeer, mode: Mode, user: str, sent: str, echo: bool, payload: bytes) -> str:
    """The reply's kind when it is a valid passive text reply to ``user``; raises ValueError otherwise."""
    try:
        reply = peer.read_reply(payload, mode=mode)
    except WeChatProtocolError as exc:
        raise ValueError(f"invalid reply: {exc}") from None
    if reply is None:
        raise ValueError("'success' instead of a passive reply")
    if reply.get("MsgType") != "text" or reply.get("ToUserName") != user or reply.get("FromUserName") != ACCOUNT:
        raise ValueError("reply is not a text reply addressed to the sender")
    content = reply.get("Content", "")
    if echo:
        if content != sent:
            raise ValueError("echo does not match")
        return "echo"
    if not content.strip():
        raise ValueError("empty reply")
    return reply_kind(content)


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
REQUEST_TIMEOUT_S = 10.0


class HttpConnection:
    """A minimal HTTP/1.1 keep-alive client connection over asyncio streams: POST, read the reply.

    The load generator's own cost per request limits what it can measure; aiohttp's client spent about half of
    the load generator's time per request (py-spy), so each worker drives one of these instead.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self.head = f"Host: {self.host}:{self.port}\r\nContent-Type: text/xml\r\n".encode()
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, params: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """(status, body) of one POST; raises OSError, ValueError or TimeoutError on a broken exchange."""
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.streams
            target = f"{self.path}?{urlencode(params)}".encode()
            writer.write(b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s" % (target, self.head, len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            length = _CONTENT_LENGTH.search(head)
            if not head.startswith(b"HTTP/1.1 ") or length is None:
                raise ValueError("not an HTTP/1.1 response with a Content-Length")
            payload = await reader.readexactly(int(length.group(1)))
            return int(head[9:12]), payload

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def drive(
    server: Server, *, mode: Mode, peer: WeChatPeer, concurrency: int, warmup: float, seconds: float, echo: bool
) -> Run:
    run = Run(server.name, seconds)
    await asyncio.to_thread(server.ask, "stats")  # resets the writer's batch mark
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def worker(index: int, connection: HttpConnection) -> None:
        user = f"oBench{mode}{index:03d}xxxxxxxxxxxxxxxxxx"[:28]  # openids are 28 characters
        k = index  # each client starts elsewhere in the cycle
        while time.perf_counter() < stop_at:
            text = MESSAGES[k % len(MESSAGES)]
            k += 1
            params, body = peer.envelope(peer.text(text, user=user), mode=mode)
            run.sent += 1
            error = None
            kind = ""
            sent_at = time.perf_counter()
            try:
                status, payload = await connection.post(params, body)
                if status != 200:
                    error = f"HTTP {status}: {payload[:60].decode('utf-8', 'replace')}"
                else:
                    kind = check_reply(peer, mode, user, text, echo, payload)
            except ValueError as exc:
                error = str(exc)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:80]
                connection.close()  # the exchange broke off: the next request opens a fresh connection
            done = time.perf_counter()
            if error is not None:
                run.errors[error] += 1
                continue
            run.ok_total += 1
            if measure_from <= done < stop_at:
                run.completed_in_window += 1
            if measure_from <= sent_at:
                run.latencies.append(done - sent_at)
                run.replies[kind] += 1

    async def cpu_marks() -> tuple[float, float, dict[str, Any], dict[str, Any]]:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        c0, s0 = time.process_time(), await asyncio.to_thread(server.ask, "stats")
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        c1, s1 = time.process_time(), await asyncio.to_thread(server.ask, "stats")
        run.batch_sizes = s1.get("batch_sizes", [])  # the window, plus the few batches of a worker's last request
        return c0, c1, s0, s1

    connections = [HttpConnection(server.url) for _ in range(concurrency)]
    try:
        marks = asyncio.create_task(cpu_marks())
        await asyncio.gather(*(worker(i, connection) for i, connection in enumerate(connections)))
        c0, c1, s0, s1 = await marks
    finally:
        for connection in connections:
            connection.close()
    run.client_cpu = (c1 - c0) / seconds
    run.server_cpu = (s1["cpu_s"] - s0["cpu_s"]) / seconds
    run.server_sys = (s1["sys_s"] - s0["sys_s"]) / seconds
    run.server_switches = s1["switches"] - s0["switches"]
    run.gc_pauses = s1["gc_pauses"]
    return run


# -------------------------------------------------------------------------------------------------- report


def fmt_ms(samples: Sequence[float], q: float) -> str:
    return f"{percentile(samples, q) * MS:.1f}" if samples else "-"


def run_row(round_no: int, run: Run) -> list[object]:
    batches = run.batch_sizes
    batching = f"{statistics.mean(batches):.1f} / {max(batches)}" if batches else "-"
    return [
        round_no,
        run.endpoint,
        f"{run.completed_in_window:,}",
        sum(run.errors.values()),
        f"{run.rate:,.0f}",
        fmt_ms(run.latencies, 50),
        fmt_ms(run.latencies, 99),
        f"{max(run.latencies) * MS:.1f}" if run.latencies else "-",
        f"{run.server_cpu:.0%}",
        f"{run.cpu_ms_per_reply:.2f}",
        f"{run.server_sys / run.server_cpu:.0%}" if run.server_cpu else "-",
        f"{run.server_switches / run.completed_in_window:.1f}" if run.completed_in_window else "-",
        f"{len(run.gc_pauses)} / {max(run.gc_pauses, default=0.0) * MS:.1f}",
        f"{run.client_cpu:.0%}",
        batching,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per endpoint per round")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of discarded load before each")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--aes", action="store_true", help="also measure the full pipeline in safe (AES) mode")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and load generator to CPUs")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 2 s after 0.5 s warm-up")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup, args.rounds = 2.0, 0.5, 1

    cpus = sorted(os.sched_getaffinity(0))
    pin = not args.no_pin and len(cpus) >= 2
    server_cpu, client_cpu = (cpus[0], cpus[1]) if pin else (None, None)
    aes_key = random_aes_key()

    with tempfile.TemporaryDirectory(prefix="humiao-bench-") as data_dir:
        bare = start_server("bare aiohttp + wechatpy echo", ServerSpec("bare", data_dir, aes_key, server_cpu))
        try:
            full = start_server("humiao full pipeline", ServerSpec("full", data_dir, aes_key, server_cpu))
        except BaseException:
            bare.stop()
            raise
        if client_cpu is not None:
            os.sched_setaffinity(0, {client_cpu})
        load_before = os.getloadavg()[0]
        try:
            runs = asyncio.run(measure(args, bare, full, aes_key))
            final = full.ask("rows")
        finally:
            bare.stop()
            full.stop()
        load_after = os.getloadavg()[0]
        log_levels: Counter[str] = Counter()
        for kind in ("bare", "full"):
            log_file = Path(data_dir) / f"server-{kind}.log"
            if log_file.exists():
                for line in log_file.read_text(encoding="utf-8").splitlines():
                    parts = line.split(" ", 3)
                    if len(parts) > 2 and parts[2].isupper():
                        log_levels[f"{kind} {parts[2]}"] += 1

    print(
        f"{args.concurrency} concurrent clients; per endpoint per round {args.warmup:g} s warm-up (discarded) + "
        f"{args.seconds:g} s measured; {args.rounds} round(s), alternating order"
    )
    print(
        "processes: each server its own process"
        + (f" pinned to CPU {server_cpu}, load generator pinned to CPU {client_cpu}" if pin else " (not pinned)")
        + f"; start-up: bare {bare.startup_s:.2f} s, full {full.startup_s:.2f} s (database, classifier, index)"
    )
    print(
        f"full pipeline: SQLite (WAL, synchronous=NORMAL) on a fresh temporary database; "
        f"1-min load average {load_before:.1f} before, {load_after:.1f} after (other processes share the CPUs)\n"
    )
    headers = [
        "round",
        "endpoint",
        "replies",
        "errors",
        "msg/s",
        "p50 (ms)",
        "p99 (ms)",
        "max (ms)",
        "server CPU (1 core)",
        "server CPU ms/msg",
        "of it kernel",
        "switches/msg",
        "GC pauses n / max (ms)",
        "client CPU",
        "jobs/commit mean / max",
    ]
    print(table(headers, [run_row(r, run) for r, run in runs]))

    by_endpoint: dict[str, list[Run]] = {}
    for _, run in runs:
        by_endpoint.setdefault(run.endpoint, []).append(run)
    summary = []
    for name, its in by_endpoint.items():
        pooled = [x for run in its for x in run.latencies]
        summary.append(
            [
                name,
                f"{statistics.median(run.rate for run in its):,.0f}",
                fmt_ms(pooled, 50),
                fmt_ms(pooled, 99),
                f"{statistics.median(run.cpu_ms_per_reply for run in its):.2f}",
                sum(sum(run.errors.values()) for run in its),
            ]
        )
    print("\nmedian over rounds (latencies pooled over rounds)\n")
    print(table(["endpoint", "msg/s", "p50 (ms)", "p99 (ms)", "server CPU ms/msg", "errors"], summary))

    bare_runs, full_runs = by_endpoint[bare.name], by_endpoint[full.name]
    ratios = [f.rate / b.rate for b, f in zip(bare_runs, full_runs, strict=True)]
    ratio = statistics.median(f.rate for f in full_runs) / statistics.median(b.rate for b in bare_runs)
    full_p99 = percentile([x for run in full_runs for x in run.latencies], 99) * MS
    cpu_ratio = statistics.median(b.cpu_ms_per_reply for b in bare_runs) / statistics.median(
        f.cpu_ms_per_reply for f in full_runs
    )
    print(
        f"\nfull / bare throughput: {ratio:.0%} (per round: {', '.join(f'{r:.0%}' for r in ratios)}); "
        f"aim >= 40%: {'met' if ratio >= 0.40 else 'MISSED'}"
    )
    print(f"  by server CPU per message (bare / full), less sensitive to other load: {cpu_ratio:.0%}")
    print(f"full pipeline p99: {full_p99:.1f} ms; aim < 100 ms: {'met' if full_p99 < 100 else 'MISSED'}")

    errors: Counter[str] = Counter()
    for _, run in runs:
        errors.update({f"{run.endpoint}: {e}": n for e, n in run.errors.items()})
    if errors:
        print("\nERRORS (warm-up included):")
        for text, n in errors.most_common(10):
            print(f"  {n:>7,}  {text}")
    else:
        print("\nerrors: none (every response 200 and a valid text reply to its sender; the echo matched)")

    replies: Counter[str] = Counter()
    for run in full_runs:
        replies.update(run.replies)
    print("full pipeline replies by kind: " + ", ".join(f"{k} {n:,}" for k, n in replies.most_common()))
    rows = final.get("rows", {})
    sent_full = sum(run.sent for _, run in runs if run.endpoint != bare.name)  # AES runs too
    ok_full = sum(run.ok_total for _, run in runs if run.endpoint != bare.name)
    stored = rows.get("inbound", -1)
    print(
        f"stored: {stored:,} inbound messages ({rows.get('inbound_handled', 0):,} handled) for {sent_full:,} "
        f"requests sent to the full pipeline ({ok_full:,} answered) -> "
        + ("match" if stored == sent_full else "MISMATCH")
    )
    print(
        f"  {rows.get('outbound', 0):,} bot replies stored, {rows.get('outbox_passive', 0):,} outbox rows marked "
        f"passive, {rows.get('cases', 0):,} cases; writer: max batch {final.get('max_batch_seen', 0)} jobs, "
        f"{final.get('failed_commits', 0)} failed commits"
    )
    print("server log lines: " + (", ".join(f"{k} {n:,}" for k, n in sorted(log_levels.items())) or "none"))
    if errors or stored != sent_full:
        raise SystemExit(1)  # numbers from a run that lost or broke requests are not numbers


async def measure(args: argparse.Namespace, bare: Server, full: Server, aes_key: str) -> list[tuple[int, Run]]:
    plain_peer = WeChatPeer(token=TOKEN, appid=APPID, account=ACCOUNT)
    aes_peer = WeChatPeer(token=TOKEN, appid=APPID, aes_key=aes_key, account=ACCOUNT)
    runs: list[tuple[int, Run]] = []
    for round_no in range(1, args.rounds + 1):
        order: list[tuple[Server, Mode, WeChatPeer, bool]] = [(bare, "plain", plain_peer, True)]
        order.append((full, "plain", plain_peer, False))
        if round_no % 2 == 0:
            order.reverse()
        if args.aes:
            order.append((full, "aes", aes_peer, False))
        for server, mode, peer, echo in order:
            run = await drive(
                server,
                mode=mode,
                peer=peer,
                echo=echo,
                concurrency=args.concurrency,
                warmup=args.warmup,
                seconds=args.seconds,
            )
            if mode == "aes":
                run.endpoint = f"{server.name} (AES)"
            runs.append((round_no, run))
            await asyncio.sleep(0.5)  # let fire-and-forget writes drain
    return runs


if __name__ == "__main__":
    main()
