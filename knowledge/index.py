"""Lexical search over the passages: jieba tokens, a field synonym table, BM25 (bm25s).

Tokens come from rjieba (jieba's dictionary and search-mode cuts in Rust, about
14 times faster than the Python package on the documents here, with the same
cuts on all but 2 of their 1,510 passages and titles).

The index is built once, cached under the data directory and rebuilt when the
source documents, the dictionary, the synonyms or this format change.
"""

from __future__ import annotations

import hashlib
import logging
import math
import pickle
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import rjieba

from knowledge.ingest import SOURCES_DIR, Passage, load_documents, source_files
from knowledge.text import normalize, read_userdict

DATA_DIR = Path(__file__).with_name("data")
USERDICT_PATH = DATA_DIR / "userdict.txt"
SYNONYMS_PATH = DATA_DIR / "synonyms.tsv"
TOPIC_TERMS_PATH = DATA_DIR / "topic_terms.txt"
INDEX_FORMAT = "kb-index-v2"  # v2: rjieba
UNKNOWN_LATIN_WEIGHT = 0.5
NAMED_DOCUMENT_BOOST = 1.5

log = logging.getLogger(__name__)

# Function words and question scaffolding (data/stopwords.txt): they carry no topic.
STOPWORDS = frozenset(
    word
    for line in (DATA_DIR / "stopwords.txt").read_text(encoding="utf-8").splitlines()
    if not line.startswith("#")
    for word in line.split()
)


def _read_synonyms(path: Path = SYNONYMS_PATH) -> dict[str, tuple[str, ...]]:
    """variant → canonical phrases (a variant may point at several)."""
    table: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        canonical, _, variants = line.partition("\t")
        for variant in variants.split(","):
            if variant.strip():
                table.setdefault(normalize(variant), []).append(normalize(canonical))
    return {k: tuple(v) for k, v in table.items()}


_tokenizer_lock = threading.Lock()


@lru_cache(maxsize=1)
def _jieba() -> rjieba.Jieba:
    """Our own tokenizer with the domain dictionary and the synonyms' variants as words."""
    with _tokenizer_lock:
        tokenizer = rjieba.Jieba()
        for word, freq, tag in read_userdict(USERDICT_PATH):
            tokenizer.add_word(word, freq, tag)
        for variant in _synonyms():
            if len(variant) > 1:
                tokenizer.add_word(variant, 20000, None)
        return tokenizer


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, tuple[str, ...]]:
    return _read_synonyms()


@lru_cache(maxsize=256)
def _canonical_tokens(phrase: str) -> tuple[str, ...]:
    return tuple(_raw_tokens(phrase))


def _raw_tokens(text: str) -> list[str]:
    return [
        t
        for t in _jieba().cut_for_search(text, False)
        if t.strip() and (t.isalnum() or any("\u4e00" <= c <= "\u9fff" for c in t)) and t not in STOPWORDS
    ]


def tokenize(text: str) -> list[str]:
    """Normalized search tokens of ``text`` with synonyms mapped to their canonical forms."""
    tokens: list[str] = []
    synonyms = _synonyms()
    for token in _raw_tokens(normalize(text)):
        canonical = synonyms.get(token)
        if canonical:
            for phrase in canonical:
                tokens.extend(_canonical_tokens(phrase))
        else:
            tokens.append(token)
    return tokens


@lru_cache(maxsize=1)
def topic_terms() -> tuple[str, ...]:
    """Words that show a question is about what the documents cover."""
    terms: list[str] = []
    for line in TOPIC_TERMS_PATH.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            terms.extend(normalize(t) for t in line.split())
    return tuple(dict.fromkeys(terms))


def mentions_topic(normalized_question: str) -> bool:
    return any(term in normalized_question for term in topic_terms())


def fingerprint(sources: Path = SOURCES_DIR) -> str:
    """Hash of everything the index depends on."""
    digest = hashlib.sha256(INDEX_FORMAT.encode())
    for path in [*source_files(sources), USERDICT_PATH, SYNONYMS_PATH, TOPIC_TERMS_PATH, DATA_DIR / "stopwords.txt"]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Hit:
    passage_id: int
    score: float
    coverage: float  # idf-weighted share of the question's tokens found in the passage


class KnowledgeIndex:
    """BM25 over passages, with per-passage token sets for coverage and extraction."""

    def __init__(self, passages: Sequence[Passage], fingerprint_: str = "") -> None:
        self.passages = list(passages)
        self.fingerprint = fingerprint_
        corpus = [self._passage_tokens(p) for p in self.passages]
        self.token_sets = [frozenset(tokens) for tokens in corpus]
        df: Counter[str] = Counter()
        for tokens in self.token_sets:
            df.update(tokens)
        n = len(corpus)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        # A word the documents never use counts as a typical word, not as the
        # rarest one: colloquial questions ("年纪", "打工") would otherwise never
        # reach the coverage bar. Latin tokens (pinyin, English) count little.
        self.unknown_idf = float(np.median(list(self.idf.values()))) if self.idf else 1.0
        self.bm25 = bm25s.BM25()
        self.bm25.index(corpus, show_progress=False)
        titles = list(dict.fromkeys(p.doc_title for p in self.passages))
        self.doc_of = np.array([titles.index(p.doc_title) for p in self.passages])
        self.title_aliases = _title_aliases(titles)

    @staticmethod
    def _passage_tokens(passage: Passage) -> list[str]:
        # The document title and the enclosing headings give a passage its context
        # ("强化网络保护" above an item that never repeats the words).
        context = " ".join((passage.doc_title, *passage.headings))
        return tokenize(context) + tokenize(passage.text)

    def weight(self, token: str) -> float:
        known = self.idf.get(token)
        if known is not None:
            return known
        return UNKNOWN_LATIN_WEIGHT if token.isascii() else self.unknown_idf

    def search(self, tokens: Iterable[str], k: int = 5, *, question: str = "") -> list[Hit]:
        """The ``k`` best passages for query ``tokens``.

        ``question`` (normalized) is checked for a document's name ("未保法里…"):
        passages of a named document are preferred.
        """
        unique = list(dict.fromkeys(tokens))
        if not unique:
            return []
        scores = self.bm25.get_scores(unique)
        named = {doc for alias, doc in self.title_aliases.items() if alias in question}
        if named:
            scores = scores * np.where(np.isin(self.doc_of, list(named)), NAMED_DOCUMENT_BOOST, 1.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        total = sum(self.weight(t) for t in unique)
        hits = []
        for i in top:
            score = float(scores[i])
            if score <= 0:
                break
            found = sum(self.weight(t) for t in unique if t in self.token_sets[i])
            hits.append(Hit(int(i), score, found / total))
        return hits


def _title_aliases(titles: list[str]) -> dict[str, int]:
    """Names people use for a law ("未成年人保护法", "未保法") → document number."""
    aliases: dict[str, int] = {}
    synonyms = _synonyms()
    for doc, title in enumerate(titles):
        short = normalize(title.removeprefix("中华人民共和国"))
        if len(short) > 12:  # long policy titles are not named in questions
            continue
        aliases[short] = doc
        for variant, canonicals in synonyms.items():
            if short in canonicals:
                aliases[variant] = doc
    return aliases


def build_index(sources: Path = SOURCES_DIR) -> KnowledgeIndex:
    _, passages = load_documents(sources)
    return KnowledgeIndex(passages, fingerprint(sources))


def _cache_path(cache_dir: Path, fp: str) -> Path:
    return cache_dir / f"{INDEX_FORMAT}-{fp}.pickle"


def load_or_build(cache_dir: Path | None, *, sources: Path = SOURCES_DIR, rebuild: bool = False) -> KnowledgeIndex:
    """The cached index if it matches the current sources, else a fresh build (then cached)."""
    fp = fingerprint(sources)
    path = _cache_path(cache_dir, fp) if cache_dir is not None else None
    if path is not None and path.exists() and not rebuild:
        try:
            with path.open("rb") as fh:
                index = pickle.load(fh)
            if isinstance(index, KnowledgeIndex) and index.fingerprint == fp:
                _jieba()  # warm the tokenizer now rather than on the first question
                return index
        except Exception as exc:  # a corrupt or foreign cache is rebuilt, never trusted
            log.warning("knowledge index cache unreadable (%s); rebuilding", type(exc).__name__)
    index = build_index(sources)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
        for stale in path.parent.glob(f"{INDEX_FORMAT}-*.pickle"):
            if stale != path:
                stale.unlink(missing_ok=True)
    return index
