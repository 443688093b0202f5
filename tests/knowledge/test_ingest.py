"""Each cleaning step exists because a real seed needs it; each is tested on that seed."""

from __future__ import annotations

import re

import pytest

from knowledge.ingest import (
    Passage,
    drop_pinyin_annotations,
    drop_unrelated_documents,
    load_documents,
    rejoin_lines,
    repair_spun,
)


@pytest.fixture(scope="module")
def corpus() -> tuple[dict[str, str], list[Passage]]:
    documents, passages = load_documents()
    texts = {d.title: "\n".join(d.paragraphs) for d in documents}
    return texts, passages


def test_pinyin_annotations_are_dropped_but_ordinary_parentheses_stay() -> None:
    assert drop_pinyin_annotations("未成年人保護(hù)工作") == "未成年人保護工作"
    assert drop_pinyin_annotations("計(jì)劃(huà)") == "計劃"
    assert drop_pinyin_annotations("(一)繼續深化") == "(一)繼續深化"
    assert drop_pinyin_annotations("學校(社區(qū))") == "學校(社區)"


def test_county_opinion_is_simplified_without_pinyin(corpus: tuple[dict[str, str], list[Passage]]) -> None:
    texts, _ = corpus
    text = texts["县未成年人保护工作意见"]
    assert "保护" in text and "保護" not in text and "關愛" not in text
    assert not re.search(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ]+\)", text)
    assert "??" not in text and "县卫生、教育" in text
    assert "导语" not in text and "不代表本站观点" not in text


def test_pdf_lines_are_rejoined_mid_word_and_mid_number(corpus: tuple[dict[str, str], list[Passage]]) -> None:
    texts, _ = corpus
    text = texts["XX市2023年未成年人保护工作要点"]
    assert "“十四五”" in text
    assert "未成年人保护工作向更高水平迈进" in text  # was broken as 未成 / 年人
    assert rejoin_lines(["也是“十四", "五”和全面建设。", "一、加强统筹谋划", "(一)强化理论学习。"]) == [
        "也是“十四五”和全面建设。",
        "一、加强统筹谋划",
        "(一)强化理论学习。",
    ]


def test_spun_copy_is_repaired_and_the_appended_document_dropped(
    corpus: tuple[dict[str, str], list[Passage]],
) -> None:
    texts, _ = corpus
    text = texts["关于进一步加强农村留守儿童关爱保护工作的实施意见"]
    for spun in ("效劳", "安康", "平安", "催促", "监视", "施行"):
        assert spun not in text, spun
    for real in ("服务", "健康", "安全", "督促", "监督", "监护能力", "进行学习辅导", "队伍建设"):
        assert real in text, real
    assert "三大服务" not in text and "质量技术" not in text and "名牌" not in text
    # ambiguous words stay: 才能 as "only then can" is not a swap
    assert repair_spun("只有这样才能做好") == "只有这样才能做好"
    assert repair_spun("提高自我保护才能") == "提高自我保护能力"


def test_drop_unrelated_documents_keeps_the_child_protection_one() -> None:
    text = (
        "关于加强留守儿童关爱的意见关于加强留守儿童关爱的意见留守儿童要关爱。未成年人要保护。儿童之家建设。"
        "关于进一步加强效劳工作的意见关于进一步加强效劳工作的意见名牌战略。质量兴市。"
    )
    kept = drop_unrelated_documents(text)
    assert "留守儿童要关爱" in kept and "名牌" not in kept


def test_web_debris_is_gone_everywhere(corpus: tuple[dict[str, str], list[Passage]]) -> None:
    _, passages = corpus
    debris = (
        "微信扫码",
        "领取福利",
        "登录/注册",
        "请登录",
        "评论(0)",
        "上传人",
        "VIP",
        "观山文库",
        "金锄头",
        "第1页",
        "点击查看",
        "侵权投诉",
        "推荐访问",
        "预计阅读时长",
        "展开>>",
        "- 3 -",
    )
    for passage in passages:
        for word in debris:
            assert word not in passage.text, (word, passage.citation)


def test_real_titles_are_recovered(corpus: tuple[dict[str, str], list[Passage]]) -> None:
    texts, _ = corpus
    for title in (
        "县未成年人保护工作意见",
        "XX镇创建全国未成年人保护示范镇实施方案",
        "XX市2023年未成年人保护工作要点",
        "关于进一步加强农村留守儿童关爱保护工作的实施意见",
        "滁州市未成年人社会保护试点工作实施方案",
        "中华人民共和国未成年人保护法",
        "未成年人网络保护条例",
    ):
        assert title in texts
    assert sum("社会保护" in t or "保护未成年人活动" in t or "专项工作" in t for t in texts) >= 7  # 003's seven plans


def test_passages_carry_title_and_section_path(corpus: tuple[dict[str, str], list[Passage]]) -> None:
    _, passages = corpus
    by_citation = {p.citation: p for p in passages}
    item = by_citation["《XX镇创建全国未成年人保护示范镇实施方案》四、（三）9."]
    assert item.text.startswith("9.有效落实强制报告制度")
    assert "强化社会保护" in item.headings
    article = by_citation["《中华人民共和国未成年人保护法》第十一条"]
    assert article.text.startswith("第十一条 ")
    assert "《中华人民共和国反家庭暴力法》第二十三条" in by_citation
    assert "《关于进一步加强农村留守儿童关爱保护工作的实施意见》二、（二）" in by_citation
    assert all(len(p.text) <= 600 for p in passages)
