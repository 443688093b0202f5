from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HUMIAO_DATA_DIR", str(tmp_path))
    return tmp_path


def test_ask_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", "事实无人抚养儿童能纳入哪些保障？"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"question", "answer", "abstained", "sources"}
    assert payload["abstained"] is False
    assert 1 <= len(payload["sources"]) <= 5
    assert all(set(s) == {"title", "section", "text", "score"} for s in payload["sources"])


def test_ask_readable_prints_citations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "家暴可以申请人身安全保护令吗"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("问：") and "答：根据《" in out and "[1] 《中华人民共和国反家庭暴力法》" in out


def test_ask_jsonl_keeps_order_and_ids_and_reports_bad_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        {"id": 7, "question": "网吧可以让未成年人进去吗"},
        {"id": "b", "question": "今天天气怎么样"},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\nnot json\n" + '{"id": 9}\n'
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["ask", "--jsonl"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == [7, "b", None, None]
    assert out[0]["abstained"] is False and out[1]["abstained"] is True
    assert "error" in out[2] and "error" in out[3]


def test_kb_build_and_db_upgrade(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    assert main(["kb", "build"]) == 0
    assert "passages" in capsys.readouterr().out
    assert list((data_dir / "kb").glob("*.pickle"))
    assert main(["db", "upgrade"]) == 0
    assert "revision" in capsys.readouterr().out
    assert (data_dir / "humiao.sqlite3").exists()


def test_bad_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HUMIAO_PORT", "eighty")
    assert main(["ask", "x"]) == 2
    assert "HUMIAO_PORT" in capsys.readouterr().err


def test_classify_jsonl_contract(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = '{"id": 1, "text": "我在天台上不想活了"}\n{"id": 2, "text": "你好"}\n[1]\n{"id": "z", "text": ""}\n'
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["classify", "--jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == [1, 2, None, "z"]
    assert set(rows[0]) == {"id", "urgency", "category", "confidence", "signals"}
    assert rows[0]["urgency"] == "red" and "error" in rows[2]
