"""Ingestion: clean the source documents and cut them into citable passages.

The policy seeds were collected from the web with all their debris. Each
cleaning step below exists because a real seed needs it:

* ``000`` is traditional Chinese with a pinyin annotation after many
  characters (``保護(hù)``): OpenCC t2s, then the annotations are dropped.
* ``002`` is PDF text broken across lines mid-word and mid-number
  (``“十四`` / ``五”``): lines are rejoined into paragraphs.
* ``003`` holds seven plans (``篇一`` … ``篇七``) with page numbers
  (``- 3 -``) and mangled titles: it is split into seven documents.
* ``004`` is a "spun" copy (near-synonym swaps such as 效劳 for 服务) paged as
  ``1、`` … ``16、`` with an unrelated document appended: pages are joined, the
  unambiguous swaps repaired, the appended document dropped and the lost
  heading markup restored.
* every seed carries site banners, upload metadata, page lists and
  comment/login widgets: those lines are removed and the real title recovered.

Laws are clean Markdown (LawRefBook): one passage per article (第X条).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.text import (
    CJK,
    pack_sentences,
    squeeze_cjk_spaces,
    strip_control,
    to_display,
    to_simplified,
)

SOURCES_DIR = Path(__file__).with_name("sources")
SEEDS_DIR = SOURCES_DIR / "seeds"
LAWS_DIR = SOURCES_DIR / "laws"

MAX_PASSAGE_CHARS = 360
INTRO_SECTION = "引言"


@dataclass(frozen=True, slots=True)
class Passage:
    """A citable piece of a document."""

    doc_title: str
    section: str  # "四、（三）9." or "第十一条" or "引言"
    text: str  # simplified, cleaned, as shown to people
    headings: tuple[str, ...] = ()  # titles of the enclosing headings (for retrieval context)
    source: str = ""  # file the passage came from

    @property
    def citation(self) -> str:
        return f"《{self.doc_title}》{self.section}"


@dataclass(slots=True)
class Document:
    title: str
    source: str
    paragraphs: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- debris

_PINYIN_ANNOTATION = re.compile(f"(?<=[{CJK}])\\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{{1,7}}\\)")

_DEBRIS_LINE_PATTERNS = [
    r"^时间[:：]",
    r"^导语[:：]",
    r"来源于网友上传|不代表本站观点",
    r"观山文库|记住我",
    r"^admin\s*分享",
    r"加入收藏|预计阅读时长",
    r"^\d+\+?$",
    r"^(领取福利|微信扫码领取福利|微信扫码分享|海报|侵权投诉|vip专免|返回 下载 相关 举报|点击查看更多>>|资源描述)$",
    r"^(展开>>|收起<<|展开阅读全文|相关资源|正为您匹配相似的精品文档|相关搜索|最新文档|登录/注册)$",
    r"^没有更多评论了哦",
    r"^\d{4}-\d{2}-\d{2}$",
    r"^[\d.]+\s*kb$",
    r"^\d+\s*页$",
    r"^第\d+页\s*/\s*共\d+页$",
    r"_第\d+页$",
    r"^上传人[:：]",
    r"由会员分享",
    r"^评论\(\d+\)",
    r"^声明[:：]",
    r"^请登录",
    r"^当前位置[:：]",
    r"^电脑版",
    r"^经营许可证",
    r"^推荐访问[:：]",
    r"\.docx?$",
    r"^未成年人社会保护工作方案\s*\d+\s*\d+$",  # running page header in 003
]
_DEBRIS_LINE = re.compile("|".join(f"(?:{p})" for p in _DEBRIS_LINE_PATTERNS), re.IGNORECASE)
# Everything after these markers is page furniture (summary repeats, comments, link farms).
_TAIL_MARKERS = re.compile(r"^(摘要[:：]|展开阅读全文|推荐访问[:：])")
_PAGE_NUMBER_PREFIX = re.compile(r"^-\s*\d+\s*-\s*")  # "- 3 - " printed page numbers


def drop_pinyin_annotations(text: str) -> str:
    """``保护(hù)`` → ``保护``; ordinary parentheses are left alone."""
    return _PINYIN_ANNOTATION.sub("", text)


def is_debris_line(line: str) -> bool:
    return bool(_DEBRIS_LINE.search(line.strip()))


def remove_debris(lines: Iterable[str]) -> list[str]:
    """Drop web-page furniture lines and everything after a tail marker."""
    kept: list[str] = []
    for raw in lines:
        line = raw.strip()
        if _TAIL_MARKERS.search(line):
            break
        if line and not is_debris_line(line):
            kept.append(line)
    return kept


# --------------------------------------------------------------------------- structure

_L1 = re.compile(r"^([一二三四五六七八九十]+)\s*、\s*")
_L2 = re.compile(r"^[（(]([一二三四五六七八九十]+)[)）]\s*")
_L3 = re.compile(r"^(\d{1,2})\s*[.．、](?!\d)\s*")
_L4 = re.compile(r"^[（(](\d{1,2})[)）]\s*")
_MARKERS = ((1, _L1), (2, _L2), (3, _L3), (4, _L4))
_SENTENCE_END = ("。", "！", "？", "；", "!", "?", ";", "：", ":")
# "一、指导思想 坚持…": a short title with at least one Chinese character, a space, the body.
_HEADING_WITH_BODY = re.compile(
    f"^(\\S{{1,6}}?[、)）.．]\\s*(?=[^\\s]*[{CJK}])[^\\s。，,；;()（）:：]{{2,20}})\\s+(\\S.*)$"
)


def heading_level(line: str) -> tuple[int, str, str] | None:
    """(level, marker as cited, rest of line) if the line starts with a heading marker."""
    for level, pattern in _MARKERS:
        m = pattern.match(line)
        if m:
            marker = {1: f"{m.group(1)}、", 2: f"（{m.group(1)}）", 3: f"{m.group(1)}.", 4: f"（{m.group(1)}）"}[level]
            return level, marker, line[m.end() :]
    return None


def split_heading_and_body(line: str) -> list[str]:
    """``一、指导思想 坚持…`` (heading and body on one line, space-separated) → two lines."""
    if heading_level(line) is None:
        return [line]
    m = _HEADING_WITH_BODY.match(line)
    if not m:
        return [line]
    return [m.group(1), *split_heading_and_body(m.group(2))]


def _is_pure_heading(line: str) -> bool:
    found = heading_level(line)
    if found is None:
        return False
    rest = found[2]
    return len(rest) <= 30 and "。" not in rest.rstrip("。")


def rejoin_lines(lines: Iterable[str]) -> list[str]:
    """Rejoin text broken across lines (PDF extraction) into paragraphs.

    A line continues the previous one unless the previous one ended a sentence
    or was a heading, or this one starts a heading.
    """
    paragraphs: list[str] = []
    for line in lines:
        if paragraphs and heading_level(line) is None:
            previous = paragraphs[-1]
            if not (previous.endswith(_SENTENCE_END) or _is_pure_heading(previous)):
                paragraphs[-1] = previous + line
                continue
        paragraphs.append(line)
    return paragraphs


def _sections(paragraphs: Iterable[str]) -> Iterator[tuple[tuple[str, ...], tuple[str, ...], str, bool]]:
    """Yield (section markers, heading titles, paragraph, is_heading) in order."""
    markers: list[str] = []
    titles: list[str] = []
    for paragraph in paragraphs:
        found = heading_level(paragraph)
        if found is None:
            yield tuple(markers), tuple(titles), paragraph, False
            continue
        level, marker, rest = found
        del markers[level - 1 :]
        del titles[level - 1 :]
        while len(markers) < level - 1:  # a level skipped: keep the path aligned
            markers.append("")
            titles.append("")
        markers.append(marker)
        title = re.split(r"[。；;:：]", rest, maxsplit=1)[0][:30]
        titles.append(title)
        yield tuple(markers), tuple(titles), paragraph, _is_pure_heading(paragraph)


def _split_long(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    if len(text) <= limit:
        return [text]
    return pack_sentences(text, limit)


def chunk_policy(doc: Document) -> list[Passage]:
    """Cut a policy document along its own 一、/（一）/1. structure."""
    passages: list[Passage] = []
    buffer: list[str] = []
    current: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    def flush() -> None:
        if not buffer or current is None:
            buffer.clear()
            return
        markers, titles = current
        section = "".join(m for m in markers if m) or INTRO_SECTION
        for piece in _split_long("\n".join(buffer)):
            passages.append(Passage(doc.title, section, piece, tuple(t for t in titles if t), doc.source))
        buffer.clear()

    for markers, titles, paragraph, is_heading in _sections(doc.paragraphs):
        key = (markers, titles)
        if key != current:
            flush()
            current = key
        # Upper-level heading titles are context only; an item's own short title
        # ("2.加大家庭支持力度。") reads naturally at the head of its passage.
        if is_heading and len(markers) <= 2:
            continue
        buffer.append(paragraph)
    flush()
    return passages


_ARTICLE = re.compile(r"^第[一二三四五六七八九十百零〇]+条")


def parse_law(path: Path) -> tuple[Document, list[Passage]]:
    """One passage per article; chapters are heading context."""
    text = strip_control(path.read_text(encoding="utf-8"))
    if "<!-- INFO END -->" in text:
        head, _, body = text.partition("<!-- INFO END -->")
    else:
        head, body = text, text
    title_match = re.search(r"^#\s+(.+)$", head, re.M)
    title = title_match.group(1).strip() if title_match else path.stem
    doc = Document(title, path.name)
    passages: list[Passage] = []
    chapter = ""
    article: list[str] = []
    section = ""

    def flush() -> None:
        if article:
            for piece in _split_long("\n".join(article), limit=600):
                passages.append(Passage(title, section, piece, (chapter,) if chapter else (), path.name))
            article.clear()

    for raw in body.splitlines():
        line = raw.strip().strip("\u200b")
        if not line or line.startswith("<!--"):
            continue
        if line.startswith("#"):
            flush()
            heading = line.lstrip("#").strip()
            if line.startswith("## "):
                chapter = re.sub(r"\s+", "", heading)
            continue
        m = _ARTICLE.match(line)
        # Keep the space after the article number ("第十一条 任何组织…"), squeeze the rest.
        line = f"{m.group(0)} {squeeze_cjk_spaces(line[m.end() :].strip())}" if m else squeeze_cjk_spaces(line)
        doc.paragraphs.append(line)
        if m:
            flush()
            section = m.group(0)
        elif not section:
            # Preamble: keep real sentences, skip the issuing-body lines.
            if not line.endswith(("。", "：")):
                continue
            section = INTRO_SECTION
        article.append(line)
    flush()
    return doc, passages


# --------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class SeedSpec:
    """What a seed file needs beyond the generic cleaning."""

    prefix: str
    title_pattern: str  # the document's own title line (debris before it is dropped)
    title: str | None = None  # the title as cited, when the line is mangled
    rejoin: bool = False  # PDF text: lines broken mid-sentence
    paged: bool = False
    spun: bool = False
    parts: tuple[tuple[str, str], ...] = ()  # (title, mangled-title prefix) per 篇


# 003 bundles seven plans; their title lines were mangled by the site (cut-off
# first characters, page counters). The titles below are read off each plan's
# own first lines and its text (e.g. 篇三 names 滁州市, 篇四 says 我区).
_PARTS_003 = (
    ("XX县未成年人社会保护工作实施方案", r"^年人社会保护工作方案.*?实施方案\s*\d+\s*\d+$"),
    ("XX县教育系统未成年人保护专项工作实施方案", r"^\d+\s*-\s*未成年人保护专项工作实施方案$"),
    (
        "滁州市未成年人社会保护试点工作实施方案",
        r"^市未成年人社会保护试点工作实施方案滁州市未成年人社会保护试点工作实施方案$",
    ),
    ("XX区未成年人社会保护试点工作方案", r"^成年人社会保护工作方案"),
    ("XX县未成年人社会保护工作实施方案（范本）", r"^县未成年人社会保护工作实施方案范本\s*"),
    ("XX区民政局保护未成年人活动方案", r"^政局保护未成年人活动方案\s*"),
    ("XX村未成年人社会保护工作方案", r"^年人社会保护工作方案"),
)

SEED_SPECS = (
    SeedSpec("000", r"^县未成年人保护工作意见$"),
    SeedSpec("001", r"^XX镇创建全国未成年人保护示范镇实施方案$"),
    SeedSpec("002", r"^XX\s*市\s*2023\s*年未成年人保护工作要点$", title="XX市2023年未成年人保护工作要点", rejoin=True),
    SeedSpec("003", r"^篇一[:：]", rejoin=True, parts=_PARTS_003),
    SeedSpec(
        "004",
        r"^关于进一步加强农村留守儿童关爱保护工作的实施意见\.doc$",
        title="关于进一步加强农村留守儿童关爱保护工作的实施意见",
        paged=True,
        spun=True,
    ),
)

# 000: one place where the site's encoding mangled "。縣(xiàn)" into "??h".
_MOJIBAKE_FIXES = ((re.compile(r"\?\?h(?=卫生)"), "。县"),)

# 004 is a spun copy: words were swapped for near-synonyms. Only swaps that are
# unambiguous in this document are repaired; a context is given where the
# spun word can also be a real word (建立, 进展, 才能 …).
SPUN_REPAIRS: tuple[tuple[str, str], ...] = (
    ("效劳", "服务"),
    ("安康", "健康"),
    ("平安", "安全"),
    ("施行", "实施"),
    ("催促", "督促"),
    ("监视", "监督"),
    ("(?<=[护者汇测])才能", "能力"),
    ("才能(?=提升|建设)", "能力"),
    ("进展(?=[检学试])", "进行"),
    ("实在进步", "切实提高"),
    ("实在发挥", "切实发挥"),
    ("进步", "提高"),
    ("服务程度", "服务水平"),
    ("工作程度", "工作水平"),
    ("总体程度", "总体水平"),
    ("根底", "基础"),
    ("根本建立", "基本建立"),
    ("(?<=队伍)建立", "建设"),
    ("建立(?=任务|和运行|规划)", "建设"),
    ("示范点建立", "示范点建设"),
    ("试点建立", "试点建设"),
    ("(?<=之家”)创立", "建设"),
    ("局部", "部分"),
    ("承受义务教育", "接受义务教育"),
    ("装备专职", "配备专职"),
    ("播送", "广播"),
    ("购置服务", "购买服务"),
    ("灵敏用工", "灵活用工"),
    ("探究", "探索"),
    ("好经历", "好经验"),
    ("广阔团员", "广大团员"),
    ("浓重气氛", "浓厚氛围"),
    ("确保存守", "确保留守"),
    ("数量构造", "数量结构"),
    ("思路和目的", "思路和目标"),
    ("目的责任制", "目标责任制"),
    ("损害", "侵害"),
)
_SPUN_RES = tuple((re.compile(p), r) for p, r in SPUN_REPAIRS)

# 004 lost its heading markup: level-1 headings survive as "一 、", level-2 as a
# bare numeral before a one-sentence heading ("二打造未成年人社会保护平台。").
_004_L1 = re.compile(r"\s*([一二三四五六七八九十])\s*、\s*(工作思路和目标|工作重点任务|工作要求)")
_004_L2 = re.compile(r"(?:^|(?<=[。；]))\s*([一二三四五六七八九十])(?=[^。，,；、“”]{3,24}。)")
# A title printed twice back to back marks the start of a document in the copy.
_DOUBLED_TITLE = re.compile(r"(关于[^。，,]{4,40}?的(?:实施|施行)?意见)\1")
_ON_TOPIC = re.compile(r"儿童|未成年|少年")


def repair_spun(text: str) -> str:
    """Undo the unambiguous near-synonym swaps of a spun copy."""
    for pattern, replacement in _SPUN_RES:
        text = pattern.sub(replacement, text)
    return text


def drop_unrelated_documents(text: str) -> str:
    """Keep only the documents of a copy that are about children.

    Each document in the copy starts with its title printed twice; the copy of
    004 carries an unrelated 质量技术监督 "三大服务" opinion after the real one.
    """
    starts = [m.start() for m in _DOUBLED_TITLE.finditer(text)] or [0]
    if starts[0] != 0:
        starts.insert(0, 0)
    bounds = [*starts, len(text)]
    kept = []
    for begin, end in itertools.pairwise(bounds):
        segment = text[begin:end]
        m = _DOUBLED_TITLE.match(segment)
        body = segment[m.end() :] if m else segment
        if len(_ON_TOPIC.findall(body)) >= 3:
            kept.append(body)
    return "".join(kept)


def _join_pages(lines: list[str]) -> str:
    """``1、…`` ``2、…``: strip sequential page numbers and join pages mid-word."""
    pages: list[str] = []
    expected = 1
    for line in lines:
        prefix = f"{expected}、"
        if line.startswith(prefix):
            pages.append(line[len(prefix) :])
            expected += 1
        elif pages:
            pages[-1] += line
    return "".join(pages)


def _restore_004_headings(text: str) -> list[str]:
    text = _004_L1.sub(lambda m: f"\n{m.group(1)}、{m.group(2)}\n", text)
    lines: list[str] = []
    for line in text.split("\n"):
        line = _004_L2.sub(lambda m: f"\n（{m.group(1)}）", line.strip())
        lines.extend(part.strip() for part in line.split("\n") if part.strip())
    return lines


def _first_clean_lines(path: Path) -> list[str]:
    text = to_simplified(strip_control(path.read_text(encoding="utf-8")))
    text = drop_pinyin_annotations(text)
    for pattern, replacement in _MOJIBAKE_FIXES:
        text = pattern.sub(replacement, text)
    return text.splitlines()


def _body_after_title(lines: list[str], title_pattern: str) -> tuple[str, list[str]]:
    """Find the title line (its last occurrence in the page header) and the body after it."""
    pattern = re.compile(title_pattern)
    hits = [i for i, line in enumerate(lines[:40]) if pattern.search(line.strip())]
    if not hits:
        raise ValueError(f"title line {title_pattern!r} not found")
    index = hits[-1]
    return squeeze_cjk_spaces(lines[index].strip()), lines[index + 1 :]


def _paragraphs(lines: Iterable[str], *, rejoin: bool) -> list[str]:
    split: list[str] = []
    for line in lines:
        line = _PAGE_NUMBER_PREFIX.sub("", line.strip())
        if line:
            split.extend(squeeze_cjk_spaces(x) for x in split_heading_and_body(line))
    if rejoin:
        split = rejoin_lines(split)
    return [to_display(p.replace("_", "")) for p in split]


def clean_seed(path: Path, spec: SeedSpec) -> list[Document]:
    """Clean one seed file into one document (or several, for 003)."""
    raw_lines = _first_clean_lines(path)
    if spec.paged:
        header_title, _ = _body_after_title(raw_lines, spec.title_pattern)
        text = _join_pages(remove_debris(raw_lines))
        text = drop_unrelated_documents(text)
        if spec.spun:
            text = repair_spun(text)
        body_lines = _restore_004_headings(text)
        title = spec.title or header_title
        return [Document(title, path.name, _paragraphs(body_lines, rejoin=False))]
    if spec.parts:
        docs = []
        body = remove_debris(raw_lines)
        starts = [i for i, line in enumerate(body) if re.match(r"^篇[一二三四五六七八九十][:：]", line)]
        for n, (begin, (title, mangled)) in enumerate(zip(starts, spec.parts, strict=True)):
            end = starts[n + 1] if n + 1 < len(starts) else len(body)
            part = body[begin + 1 : end]
            if part:
                part[0] = re.sub(mangled, "", part[0]).strip()
            docs.append(Document(title, f"{path.name}#篇{n + 1}", _paragraphs(part, rejoin=spec.rejoin)))
        return docs
    found_title, rest = _body_after_title(raw_lines, spec.title_pattern)
    return [Document(spec.title or found_title, path.name, _paragraphs(remove_debris(rest), rejoin=spec.rejoin))]


def seed_spec_for(path: Path) -> SeedSpec:
    for spec in SEED_SPECS:
        if path.name.startswith(spec.prefix):
            return spec
    raise ValueError(f"no cleaning spec for seed {path.name}")


def load_documents(sources: Path = SOURCES_DIR) -> tuple[list[Document], list[Passage]]:
    """Every document and passage from the seeds and laws under ``sources``."""
    documents: list[Document] = []
    passages: list[Passage] = []
    for path in sorted((sources / "seeds").glob("*.txt")):
        for doc in clean_seed(path, seed_spec_for(path)):
            documents.append(doc)
            passages.extend(chunk_policy(doc))
    for path in sorted((sources / "laws").glob("*.md")):
        doc, law_passages = parse_law(path)
        documents.append(doc)
        passages.extend(law_passages)
    return documents, passages


def source_files(sources: Path = SOURCES_DIR) -> list[Path]:
    return sorted([*(sources / "seeds").glob("*.txt"), *(sources / "laws").glob("*.md")])
