"""``humiao`` command line: serve, ask, kb, db (and later classify, train, eval).

Settings are read here, once, from the environment; everything below receives
them as arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from bot.settings import Settings, SettingsError


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=getattr(logging, settings.log_level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Library chatter (index building, migration plugins) is not operational news.
    for noisy in ("bm25s", "alembic", "jieba"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


# --------------------------------------------------------------------------- serve / db


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.app import create_app

    host = args.host or settings.host
    port = args.port or settings.port
    print(f"Humiao serving on http://{host}:{port}  (database: {settings.database_url.split('://')[0]})")
    # No access log: it would record the IP address and path of every child who writes.
    web.run_app(create_app(settings), host=host, port=port, access_log=None, print=None)
    return 0


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    from bot import db

    async def run() -> str | None:
        engine = db.create_engine(settings.database_url)
        try:
            await db.upgrade(engine, args.revision)
            return await db.current_revision(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(run())
    print(f"database at revision {revision}")
    return 0


# --------------------------------------------------------------------------- knowledge


def cmd_kb_build(settings: Settings, args: argparse.Namespace) -> int:
    import knowledge

    started = time.perf_counter()
    kb = knowledge.configure(settings.kb_cache_dir, rebuild=args.force)
    index = kb.index
    titles = {p.doc_title for p in index.passages}
    print(
        f"knowledge index {index.fingerprint}: {len(index.passages)} passages from {len(titles)} documents "
        f"({time.perf_counter() - started:.2f} s) in {settings.kb_cache_dir}"
    )
    return 0


def _print_answer(result: object, out: TextIO) -> None:
    from knowledge import Answer

    assert isinstance(result, Answer)
    out.write(f"问：{result.question.strip()}\n")
    out.write(f"答：{result.answer}\n")
    if result.sources:
        out.write("\n出处（相关度从高到低）：\n")
        for n, source in enumerate(result.sources, 1):
            snippet = source.text.replace("\n", "")
            snippet = snippet if len(snippet) <= 90 else snippet[:89] + "…"
            out.write(f"  [{n}] {source.citation}  (score {source.score:.1f})\n      {snippet}\n")


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    import knowledge

    kb = knowledge.configure(settings.kb_cache_dir)
    out = sys.stdout
    if args.jsonl:
        for line_number, line in enumerate(sys.stdin, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise ValueError("not an object")
                question = item.get("question")
                if not isinstance(question, str):
                    raise ValueError("question must be a string")
            except ValueError as exc:
                error: dict[str, object] = {
                    "id": None,
                    "question": None,
                    "answer": "",
                    "abstained": True,
                    "sources": [],
                    "error": f"line {line_number}: {exc}",
                }
                out.write(json.dumps(error, ensure_ascii=False) + "\n")
                continue
            answered = {"id": item.get("id"), **kb.answer(question).to_dict()}
            out.write(json.dumps(answered, ensure_ascii=False) + "\n")
        out.flush()
        return 0
    question = " ".join(args.question)
    if not question and not sys.stdin.isatty():
        question = sys.stdin.read()
    result = kb.answer(question)
    if args.json:
        out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    else:
        _print_answer(result, out)
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="humiao", description="护苗 Humiao — child-protection chatbot and triage")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (aiohttp)")
    serve.add_argument("--host", default=None, help="bind address (default HUMIAO_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default HUMIAO_PORT or 8080)")
    serve.set_defaults(func=cmd_serve)

    ask = sub.add_parser("ask", help="answer a policy question from the documents, with citations")
    ask.add_argument("question", nargs="*", help="the question (or read from stdin)")
    mode = ask.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print one JSON object")
    mode.add_argument("--jsonl", action="store_true", help='read {"id","question"} lines on stdin')
    ask.set_defaults(func=cmd_ask)

    kb = sub.add_parser("kb", help="knowledge base maintenance")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    build = kb_sub.add_parser("build", help="build (or verify) the cached index")
    build.add_argument("--force", action="store_true", help="rebuild even if the cache is current")
    build.set_defaults(func=cmd_kb_build)

    database = sub.add_parser("db", help="database maintenance")
    db_sub = database.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"humiao: configuration error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    try:
        return int(args.func(settings, args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
