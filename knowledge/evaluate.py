"""Retrieval evaluation on a question set: hit@k for in-scope questions, abstention for the rest.

A question set is JSON lines: ``{"question", "expect": [[title_part, text_part], ...]}``
for in-scope questions (a hit is a source whose title and text contain one pair),
``{"question", "out_of_scope": true}`` for questions the documents do not answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.answer import Answer, KnowledgeBase


@dataclass
class EvalReport:
    in_scope: int = 0
    hits_at_1: int = 0
    hits_at_3: int = 0
    wrongly_abstained: int = 0
    out_of_scope: int = 0
    abstained_correctly: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def hit_at_3(self) -> float:
        return self.hits_at_3 / self.in_scope if self.in_scope else 0.0

    @property
    def hit_at_1(self) -> float:
        return self.hits_at_1 / self.in_scope if self.in_scope else 0.0

    @property
    def abstention(self) -> float:
        return self.abstained_correctly / self.out_of_scope if self.out_of_scope else 0.0


def _rank_of_hit(answer: Answer, expect: list[list[str]]) -> int | None:
    for rank, source in enumerate(answer.sources, 1):
        for title_part, text_part in expect:
            if title_part in source.title and text_part in source.text:
                return rank
    return None


def evaluate(kb: KnowledgeBase, path: Path) -> EvalReport:
    report = EvalReport()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        result = kb.answer(item["question"])
        if item.get("out_of_scope"):
            report.out_of_scope += 1
            if result.abstained:
                report.abstained_correctly += 1
            else:
                report.misses.append(f"answered out-of-scope: {item['question']} -> {result.sources[0].citation}")
            continue
        report.in_scope += 1
        rank = None if result.abstained else _rank_of_hit(result, item["expect"])
        if result.abstained:
            report.wrongly_abstained += 1
        if rank == 1:
            report.hits_at_1 += 1
        if rank is not None and rank <= 3:
            report.hits_at_3 += 1
        else:
            got = "abstained" if result.abstained else ", ".join(s.citation for s in result.sources[:3])
            report.misses.append(f"miss: {item['question']} -> {got}")
    return report
