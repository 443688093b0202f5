"""Drop v6 lines whose normalised text matches existing data; add ids; write two shuffled, unlabelled halves."""
import glob
import json
import random
import sys
from pathlib import Path
from typing import Any
sys.path.insert(0, str(Path(__file__).resolve().parents[5]))
from triage.text import prepare
D = str(Path(__file__).resolve().parents[2])
existing: set[str] = set()
for f in glob.glob(D + '/train/*.jsonl'):
    for l in open(f, encoding='utf-8'):
        if l.strip(): existing.add(prepare(json.loads(l)['text']).strip())
dropped: list[tuple[str, int]] = []
items: list[dict[str, Any]] = []
for name, prefix in (('hk', 'hk'), ('hl', 'hl')):
    path = f'{D}/heldout_v6/{name}.jsonl'
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, l in enumerate(open(path, encoding='utf-8'), 1):
        if not l.strip(): continue
        d = json.loads(l)
        key = prepare(d['text']).strip()
        if key in existing or key in seen:
            dropped.append((name, n)); continue
        seen.add(key)
        d = {'id': f'{prefix}-{len(kept)+1:03d}', **{k: v for k, v in d.items() if k != 'id'}}
        kept.append(d)
    existing |= seen
    with open(path, 'w', encoding='utf-8') as out:
        for d in kept: out.write(json.dumps(d, ensure_ascii=False) + '\n')
    items += kept
print('kept', len(items), 'dropped', len(dropped), dropped)
rng = random.Random(20261203)
rng.shuffle(items)
half = len(items) // 2
for i, part in enumerate((items[:half], items[half:]), 1):
    with open(f'/tmp/v6check/part{i}.jsonl', 'w', encoding='utf-8') as out:
        for d in part: out.write(json.dumps({'id': d['id'], 'text': d['text']}, ensure_ascii=False) + '\n')
