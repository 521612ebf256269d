#!/usr/bin/env python3
"""Random address / subject headers for ENVELOPE differential runs: random_addresses.py OUTDIR COUNT SEED"""
import os, random, sys

out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
os.makedirs(out, exist_ok=True)
TOKENS = ['a', 'bob', 'x.y', '@', '<', '>', ',', ':', ';', '"', '"q w"', '(', ')', '(c)', '\\', '.', '..', '[', ']', '[1.2.3.4]',
          ' ', '  ', '\t', '\r\n ', 'example.org', 'j\xfcrgen', '=?utf-8?q?x?=', '@a,@b:', 'g:', '""', '<>', '\\"', 'a@b', '<a@b>']

def value():
    return ''.join(rnd.choice(TOKENS) for _ in range(rnd.randint(0, 12)))

for i in range(count):
    hs = []
    for name in rnd.sample(['From', 'To', 'Cc', 'Bcc', 'Sender', 'Reply-To', 'Subject', 'In-Reply-To', 'Message-ID', 'Date'], rnd.randint(1, 6)):
        hs.append(f'{name}: {value()}')
    data = ('\r\n'.join(hs) + '\r\n\r\nbody\r\n').encode('latin-1')
    open(os.path.join(out, f'a{seed}-{i:04d}.eml'), 'wb').write(data)
