"""Apply the adjudication: a v6 label changes only where the adjudicator picked the annotator's label."""

import glob
import json
from pathlib import Path
from typing import Any

N = Path(__file__).resolve().parent
D = N.parents[1]
key = json.loads((N / "adjudicate_key.json").read_text(encoding="utf-8"))
pairs = {json.loads(line)["id"]: json.loads(line) for line in open(N / "adjudicate.jsonl", encoding="utf-8")}
changes: list[tuple[str, dict[str, Any], dict[str, Any], str]] = []
picked: dict[str, dict[str, Any]] = {}
writer_kept = 0
for line in open(N / "adjudicated.jsonl", encoding="utf-8"):
    verdict = json.loads(line)
    who = key[verdict["id"]][verdict["choice"]]
    if who == "annotator":
        picked[verdict["id"]] = {"label": pairs[verdict["id"]][verdict["choice"]], "why": verdict["why"]}
    else:
        writer_kept += 1
total = 0
for path in sorted(glob.glob(str(D / "heldout_v6" / "*.jsonl"))):
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    total += len(rows)
    for row in rows:
        if row["id"] in picked:
            new = picked[row["id"]]["label"]
            old = {"urgency": row["urgency"], "category": row["category"]}
            changes.append((row["id"], old, new, picked[row["id"]]["why"]))
            row["urgency"], row["category"] = new["urgency"], new["category"]
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
with open(N / "CHANGES.md", "w", encoding="utf-8") as out:
    out.write(f"# v6 labels changed by the blind label check ({len(changes)} of {total})\n\n")
    out.write(
        "Writer's label → the annotator's label the adjudicator picked, with the adjudicator's reason. "
        f"The adjudicator kept the writer's label {writer_kept} times. Inputs and outputs of each step are beside "
        "this file (`adjudicate_key.json` says which of A/B was the writer's).\n\n"
    )
    out.write("| id | as written | as checked | adjudicator's reason |\n|---|---|---|---|\n")
    for i, old, new, why in sorted(changes):
        out.write(f"| {i} | {old['urgency']}/{old['category']} | {new['urgency']}/{new['category']} | {why} |\n")
print(len(changes), "labels changed;", writer_kept, "writer labels kept")
