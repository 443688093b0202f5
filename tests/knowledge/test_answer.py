from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import knowledge
from knowledge.evaluate import evaluate
from knowledge.index import fingerprint, load_or_build

QUESTIONS = Path(__file__).with_name("questions.jsonl")


def test_question_set_hit_at_3_and_abstention(kb: knowledge.KnowledgeBase) -> None:
    report = evaluate(kb, QUESTIONS)
    assert report.in_scope >= 60 and report.out_of_scope >= 15
    assert report.hit_at_3 >= 0.9, report.misses
    assert report.abstention >= 0.9, report.misses


def test_answer_is_a_concise_cited_extract(kb: knowledge.KnowledgeBase) -> None:
    result = kb.answer("家暴怎么申请人身安全保护令？")
    assert not result.abstained
    assert result.answer.startswith("根据《中华人民共和国反家庭暴力法》")
    assert len(result.answer) < 320
    assert 1 <= len(result.sources) <= 5
    scores = [s.score for s in result.sources]
    assert scores == sorted(scores, reverse=True)
    payload = result.to_dict()
    assert set(payload) == {"question", "answer", "abstained", "sources"}
    assert set(payload["sources"][0]) == {"title", "section", "text", "score"}  # type: ignore[index]


def test_traditional_and_full_width_questions_match_like_simplified(kb: knowledge.KnowledgeBase) -> None:
    simplified = kb.answer("网吧可以让未成年人进入吗")
    traditional = kb.answer("網吧可以讓未成年人進入嗎？")
    full_width = kb.answer("网吧可以让未成年人进入吗？　")
    assert simplified.sources[0] == traditional.sources[0] == full_width.sources[0]


def test_out_of_scope_abstains_with_12355_and_a_person(kb: knowledge.KnowledgeBase) -> None:
    result = kb.answer("明天天气怎么样")
    assert result.abstained and result.sources == ()
    assert "12355" in result.answer and "转人工" in result.answer


@pytest.mark.parametrize(
    "question",
    [
        "",
        "   \n\t",
        "家" * 10_000,
        "\x00\x01\x02\xff\ufffd" * 50,
        "😀😭🙏🏻" * 20,
        "\u200b\u202e",
        bytes(range(256)).decode("latin-1"),
        "孩子" * 5000,
        "?!。，",
        "SELECT * FROM passages; --",
    ],
)
def test_bad_input_never_raises(kb: knowledge.KnowledgeBase, question: str) -> None:
    result = kb.answer(question)
    assert isinstance(result.answer, str) and result.answer
    assert len(result.sources) <= 5


def test_empty_question_gets_a_prompt_not_a_passage(kb: knowledge.KnowledgeBase) -> None:
    result = kb.answer("   ")
    assert result.abstained and "例如" in result.answer


def test_index_is_cached_and_rebuilt_when_documents_change(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(Path(knowledge.__file__).with_name("sources"), sources)
    cache = tmp_path / "cache"
    first = load_or_build(cache, sources=sources)
    cached = list(cache.glob("*.pickle"))
    assert len(cached) == 1
    again = load_or_build(cache, sources=sources)
    assert again.fingerprint == first.fingerprint and len(again.passages) == len(first.passages)
    law = next((sources / "laws").glob("反家庭暴力法*.md"))
    law.write_text(law.read_text(encoding="utf-8") + "\n第三十九条 测试新增条文。\n", encoding="utf-8")
    assert fingerprint(sources) != first.fingerprint
    rebuilt = load_or_build(cache, sources=sources)
    assert len(rebuilt.passages) == len(first.passages) + 1
    assert len(list(cache.glob("*.pickle"))) == 1  # the stale cache is removed


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    index = load_or_build(tmp_path)
    path = next(tmp_path.glob("*.pickle"))
    path.write_bytes(b"not a pickle")
    again = load_or_build(tmp_path)
    assert len(again.passages) == len(index.passages)
