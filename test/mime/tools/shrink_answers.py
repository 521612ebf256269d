#!/usr/bin/env python3
"""Shrink recorded answers: drop items the official fixtures already cover,
replace values longer than LIMIT (default 512) by {"len", "sha256"} (the
first 16 hex digits). Usage: shrink_answers.py FILE [LIMIT] [--drop ITEM ...]"""
import hashlib, json, sys

path, *rest = sys.argv[1:]
limit = 512
if rest and rest[0].isdigit():
    limit = int(rest.pop(0))
drop = set(rest[1:]) if rest[:1] == ['--drop'] else set()
data = json.load(open(path))
for name, items in data.items():
    for item in list(items):
        if item in drop:
            del items[item]
            continue
        a = items[item]
        if 'ok' in a and len(a['ok']) > limit:
            b = a['ok'].encode('latin-1')
            items[item] = {'len': len(b), 'sha256': hashlib.sha256(b).hexdigest()[:16]}
json.dump(data, open(path, 'w'), indent=0, sort_keys=True)
