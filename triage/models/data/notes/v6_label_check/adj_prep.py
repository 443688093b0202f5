import glob
import json
import random
from pathlib import Path
from typing import Any
D = str(Path(__file__).resolve().parents[2])
N = D + '/notes/v6_label_check'
writer: dict[str, dict[str, Any]] = {}
for f in sorted(glob.glob(D + '/heldout_v6/*.jsonl')):
    for l in open(f, encoding='utf-8'):
        d = json.loads(l); writer[d['id']] = d
ann: dict[str, dict[str, Any]] = {}
for f in (N + '/labels_p1.jsonl', N + '/labels_p2.jsonl'):
    for l in open(f, encoding='utf-8'):
        d = json.loads(l); ann[d['id']] = d
assert set(ann) == set(writer), (len(ann), len(writer))
n = len(writer)
agree_u = sum(ann[i]['urgency'] == writer[i]['urgency'] for i in writer)
agree_c = sum(ann[i]['category'] == writer[i]['category'] for i in writer)
red_w = [i for i in writer if writer[i]['urgency'] == 'red']
red_a = [i for i in writer if ann[i]['urgency'] == 'red']
print(f'urgency agree {agree_u}/{n} = {agree_u/n:.3f}; category {agree_c}/{n} = {agree_c/n:.3f}')
print('writer reds', len(red_w), 'annotator reds', len(red_a), 'both', len(set(red_w) & set(red_a)))
rng = random.Random(7)
dis = [i for i in sorted(writer) if (ann[i]['urgency'], ann[i]['category']) != (writer[i]['urgency'], writer[i]['category'])]
key: dict[str, dict[str, str]] = {}
with open(N + '/adjudicate.jsonl', 'w', encoding='utf-8') as out:
    for i in dis:
        w = {'urgency': writer[i]['urgency'], 'category': writer[i]['category']}
        a = {'urgency': ann[i]['urgency'], 'category': ann[i]['category']}
        if rng.random() < 0.5:
            key[i] = {'A': 'writer', 'B': 'annotator'}; pair = (w, a)
        else:
            key[i] = {'A': 'annotator', 'B': 'writer'}; pair = (a, w)
        out.write(json.dumps({'id': i, 'text': writer[i]['text'], 'A': pair[0], 'B': pair[1]}, ensure_ascii=False) + '\n')
json.dump(key, open(N + '/adjudicate_key.json', 'w'))
print('to adjudicate', len(dis))
