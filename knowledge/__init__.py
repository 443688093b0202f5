"""Policy knowledge base: ingestion, lexical index and cited answers (pure core).

``knowledge.answer(question) -> Answer`` imports nothing from aiohttp, wechatpy
or SQLAlchemy.
"""

from knowledge.answer import Answer, KnowledgeBase, Source, answer, configure, default_kb

__all__ = ["Answer", "KnowledgeBase", "Source", "answer", "configure", "default_kb"]
