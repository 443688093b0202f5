"""The blind label check of a fresh held-out split (notes/HELDOUT_V3.md … HELDOUT_V8.md), in three steps.

    python label_check.py prep v6        # before anyone labels: dedupe, add ids, write unlabelled halves
    python label_check.py adjudicate v6  # after the two annotators: the blind A/B file and its key
    python label_check.py apply v6       # after the adjudicator: change labels, write CHANGES.md

For split ``vN`` the data is ``heldout_vN/*.jsonl`` (one file per writer; ids
are ``<file stem>-001`` …), the outputs live in ``notes/vN_label_check/``, and
the annotators' and adjudicator's inputs in ``/tmp/vNcheck/`` (outside the
repository, so that nobody labelling opens the writers' files by accident).

``prep`` runs once, while the split is new: it drops lines whose normalised
text matches a training line or another split's line, so after a split has been retired into
``train/`` running it again would drop everything. ``apply`` runs once too:
it rewrites the split's labels and records what it changed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

NOTES = Path(__file__).resolve().parent
DATA = NOTES.parent
sys.path.insert(0, str(DATA.parents[2]))  # the repository root, for triage.text

SHUFFLE_SEED = 20261203  # the annotators' halves
ORDER_SEED = 7  # which of writer/annotator is shown as A

Row = dict[str, Any]


def _rows(path: Path) -> list[Row]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write(path: Path, rows: list[Row]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _split_files(split: str) -> list[Path]:
    return sorted((DATA / f"heldout_{split}").glob("*.jsonl"))


def _check_dir(split: str) -> Path:
    return NOTES / f"{split}_label_check"


def _tmp_dir(split: str) -> Path:
    return Path("/tmp") / f"{split}check"


def prep(split: str) -> None:
    """Drop lines matching existing data, give ids, and write two shuffled halves without labels."""
    from triage.text import prepare

    # Every training line and every other split's: a split retired into training later must not leak.
    others = [f for f in DATA.glob("heldout_*/*.jsonl") if f.parent.name != f"heldout_{split}"]
    existing = {prepare(r["text"]).strip() for f in [*(DATA / "train").glob("*.jsonl"), *others] for r in _rows(f)}
    dropped: list[tuple[str, int]] = []
    items: list[Row] = []
    for path in _split_files(split):
        kept: list[Row] = []
        seen: set[str] = set()
        for number, row in enumerate(_rows(path), 1):
            key = prepare(row["text"]).strip()
            if key in existing or key in seen:
                dropped.append((path.stem, number))
                continue
            seen.add(key)
            kept.append({"id": f"{path.stem}-{len(kept) + 1:03d}", **{k: v for k, v in row.items() if k != "id"}})
        existing |= seen
        _write(path, kept)
        items += kept
    print("kept", len(items), "dropped", len(dropped), dropped)
    random.Random(SHUFFLE_SEED).shuffle(items)
    half = len(items) // 2
    tmp = _tmp_dir(split)
    tmp.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate((items[:half], items[half:]), 1):
        _write(tmp / f"part{i}.jsonl", [{"id": r["id"], "text": r["text"]} for r in part])


def adjudicate(split: str) -> None:
    """Agreement of annotators with writers; the disagreements as a blind A/B file, and its key."""
    check = _check_dir(split)
    writer = {r["id"]: r for path in _split_files(split) for r in _rows(path)}
    annotator = {r["id"]: r for part in ("labels_p1", "labels_p2") for r in _rows(check / f"{part}.jsonl")}
    assert set(annotator) == set(writer), (len(annotator), len(writer))
    n = len(writer)
    agree_u = sum(annotator[i]["urgency"] == writer[i]["urgency"] for i in writer)
    agree_c = sum(annotator[i]["category"] == writer[i]["category"] for i in writer)
    red_w = {i for i in writer if writer[i]["urgency"] == "red"}
    red_a = {i for i in writer if annotator[i]["urgency"] == "red"}
    print(f"urgency agree {agree_u}/{n} = {agree_u / n:.3f}; category {agree_c}/{n} = {agree_c / n:.3f}")
    print("writer reds", len(red_w), "annotator reds", len(red_a), "both", len(red_w & red_a))
    rng = random.Random(ORDER_SEED)
    pairs: list[Row] = []
    key: dict[str, dict[str, str]] = {}
    for i in sorted(writer):
        w = {"urgency": writer[i]["urgency"], "category": writer[i]["category"]}
        a = {"urgency": annotator[i]["urgency"], "category": annotator[i]["category"]}
        if w == a:
            continue
        if rng.random() < 0.5:
            key[i], shown = {"A": "writer", "B": "annotator"}, (w, a)
        else:
            key[i], shown = {"A": "annotator", "B": "writer"}, (a, w)
        pairs.append({"id": i, "text": writer[i]["text"], "A": shown[0], "B": shown[1]})
    _write(check / "adjudicate.jsonl", pairs)
    (check / "adjudicate_key.json").write_text(json.dumps(key), encoding="utf-8")
    tmp = _tmp_dir(split)
    tmp.mkdir(parents=True, exist_ok=True)
    _write(tmp / "adjudicate.jsonl", pairs)  # what the adjudicator reads: no key beside it
    print("to adjudicate", len(pairs))


def apply(split: str) -> None:
    """A label changes only where the adjudicator picked the annotator's; every change goes to CHANGES.md."""
    check = _check_dir(split)
    key = json.loads((check / "adjudicate_key.json").read_text(encoding="utf-8"))
    shown = {r["id"]: r for r in _rows(check / "adjudicate.jsonl")}
    picked: dict[str, Row] = {}
    writer_kept = 0
    for verdict in _rows(check / "adjudicated.jsonl"):
        if key[verdict["id"]][verdict["choice"]] == "annotator":
            picked[verdict["id"]] = {"label": shown[verdict["id"]][verdict["choice"]], "why": verdict["why"]}
        else:
            writer_kept += 1
    changes: list[tuple[str, Row, Row, str]] = []
    total = 0
    for path in _split_files(split):
        rows = _rows(path)
        total += len(rows)
        for row in rows:
            if row["id"] in picked:
                new = picked[row["id"]]["label"]
                changes.append(
                    (row["id"], {"urgency": row["urgency"], "category": row["category"]}, new, picked[row["id"]]["why"])
                )
                row["urgency"], row["category"] = new["urgency"], new["category"]
        _write(path, rows)
    lines = [
        f"# {split} labels changed by the blind label check ({len(changes)} of {total})\n\n",
        "Writer's label → the annotator's label the adjudicator picked, with the adjudicator's reason. "
        f"The adjudicator kept the writer's label {writer_kept} times. Inputs and outputs of each step are beside "
        "this file (`adjudicate_key.json` says which of A/B was the writer's).\n\n",
        "| id | as written | as checked | adjudicator's reason |\n|---|---|---|---|\n",
        *(
            f"| {i} | {old['urgency']}/{old['category']} | {new['urgency']}/{new['category']} | {why} |\n"
            for i, old, new, why in sorted(changes)
        ),
    ]
    (check / "CHANGES.md").write_text("".join(lines), encoding="utf-8")
    print(len(changes), "labels changed;", writer_kept, "writer labels kept")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["prep", "adjudicate", "apply"])
    parser.add_argument("split", help="the split's name, e.g. v6")
    args = parser.parse_args()
    {"prep": prep, "adjudicate": adjudicate, "apply": apply}[args.step](args.split)


if __name__ == "__main__":
    main()
