"""Answers with citations, or an abstention that offers 12355 and a person."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from knowledge.index import KnowledgeIndex, load_or_build, mentions_topic, tokenize
from knowledge.text import has_cjk, normalize, split_sentences

MAX_SOURCES = 5
MAX_QUESTION_CHARS = 1000  # retrieval looks at the start of very long input
MAX_EXTRACT_CHARS = 240
# Abstention: a question must mention a topic the documents cover
# (data/topic_terms.txt), and the best passage must contain this share of the
# question's idf-weighted words. Otherwise we abstain rather than show a random
# passage. Tuned on tests/knowledge/questions.jsonl.
MIN_COVERAGE = 0.3
MIN_SCORE = 3.0

ABSTAIN_TEXT = (
    "这个问题我在现有的政策和法律文件里没有找到可靠的答案，不想随便回答误导您。"
    "您可以拨打12355青少年服务台（免费、保密），或回复“转人工”请工作人员帮您。"
    "如果有人正处在危险中，请立即拨打110或120。"
)
EMPTY_TEXT = (
    "请把您想咨询的问题发给我，例如：“事实无人抚养儿童有什么补助？”“被家暴了可以申请人身安全保护令吗？”"
    "需要人工帮助请回复“转人工”或拨打12355。"
)


@dataclass(frozen=True, slots=True)
class Source:
    """A passage cited in an answer."""

    title: str
    section: str
    text: str
    score: float

    @property
    def citation(self) -> str:
        return f"《{self.title}》{self.section}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the knowledge base says about a question."""

    question: str
    answer: str
    abstained: bool
    sources: tuple[Source, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """The JSON contract of ``humiao ask --json``."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "sources": [asdict(s) for s in self.sources],
        }


class KnowledgeBase:
    """Answers questions from a :class:`KnowledgeIndex`."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index

    def answer(self, question: str) -> Answer:
        """Answer ``question`` from the documents, citing passages best first."""
        if not isinstance(question, str):
            question = str(question)
        text = normalize(question[: MAX_QUESTION_CHARS * 2])[:MAX_QUESTION_CHARS]
        tokens = tokenize(text) if (has_cjk(text) or any(c.isalnum() for c in text)) else []
        if not tokens:
            return Answer(question, EMPTY_TEXT if not text else ABSTAIN_TEXT, True)
        if not mentions_topic(text):
            return Answer(question, ABSTAIN_TEXT, True)
        hits = self.index.search(tokens, k=MAX_SOURCES, question=text)
        if not hits or hits[0].coverage < MIN_COVERAGE or hits[0].score < MIN_SCORE:
            return Answer(question, ABSTAIN_TEXT, True)
        sources = tuple(
            Source(p.doc_title, p.section, p.text, round(h.score, 3))
            for h in hits
            for p in (self.index.passages[h.passage_id],)
        )
        best = sources[0]
        return Answer(question, f"根据{best.citation}：{self._extract(best.text, tokens)}", False, sources)

    def _extract(self, passage: str, tokens: list[str]) -> str:
        """The sentences of ``passage`` that speak to the question, in their order."""
        if len(passage) <= MAX_EXTRACT_CHARS:
            return passage.replace("\n", "")
        sentences = split_sentences(passage.replace("\n", ""))
        wanted = set(tokens)
        scored = []
        for i, sentence in enumerate(sentences):
            found = set(tokenize(sentence)) & wanted
            scored.append((sum(self.index.weight(t) for t in found), i))
        best = max(scored)[1]
        chosen = [best]
        # Widen to neighbours while they fit: an extract should read as a whole.
        for j in (best + 1, best - 1, best + 2):
            if 0 <= j < len(sentences):
                if sum(len(sentences[i]) for i in chosen) + len(sentences[j]) > MAX_EXTRACT_CHARS:
                    break
                chosen.append(j)
        extract = "".join(sentences[i] for i in sorted(chosen))
        return extract if len(extract) <= MAX_EXTRACT_CHARS else extract[: MAX_EXTRACT_CHARS - 1] + "…"


_default: KnowledgeBase | None = None
_default_lock = threading.Lock()


def configure(cache_dir: Path | None, *, rebuild: bool = False) -> KnowledgeBase:
    """Load (or build and cache) the index and make it the default knowledge base."""
    global _default
    kb = KnowledgeBase(load_or_build(cache_dir, rebuild=rebuild))
    with _default_lock:
        _default = kb
    return kb


def default_kb() -> KnowledgeBase:
    """The configured knowledge base; built in memory on first use if none was configured."""
    global _default
    with _default_lock:
        if _default is None:
            _default = KnowledgeBase(load_or_build(None))
        return _default


def answer(question: str) -> Answer:
    """Answer a policy question from the documents, with citations (or abstain)."""
    return default_kb().answer(question)
