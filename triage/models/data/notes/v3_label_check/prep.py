"""Drop v3 lines whose normalised text matches existing data; add ids; write two shuffled, unlabelled halves."""
import json, glob, random, sys
sys.path.insert(0, '/work/main')
from triage.text import prepare
D = '/work/main/triage/models/data'
existing = set()
for f in glob.glob(D + '/train/*.jsonl'):
    for l in open(f, encoding='utf-8'):
        if l.strip(): existing.add(prepare(json.loads(l)['text']).strip())
dropped = []
items = []
for name, prefix in (('he', 'he'), ('hf', 'hf')):
    path = f'{D}/heldout_v3/{name}.jsonl'
    kept = []
    seen = set()
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
    with open(f'/tmp/v3check/part{i}.jsonl', 'w', encoding='utf-8') as out:
        for d in part: out.write(json.dumps({'id': d['id'], 'text': d['text']}, ensure_ascii=False) + '\n')
