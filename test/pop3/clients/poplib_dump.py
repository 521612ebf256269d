"""Fetch every message with Python's poplib (RETR, then TOP n for each n given);
print the lines poplib returns (dot-unstuffed, line ends removed) as JSON.

usage: poplib_dump.py PORT USER PASSWORD [TOP-LINES...]
"""
import json
import poplib
import sys

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tops = [int(a) for a in sys.argv[4:]]
pop = poplib.POP3('127.0.0.1', port, timeout=60)
pop.user(user)
pop.pass_(password)
count, _ = pop.stat()
out = []
for n in range(1, count + 1):
    resp, lines, octets = pop.retr(n)
    entry = {'resp': resp.decode(), 'lines': [l.decode('latin-1') for l in lines], 'octets': octets, 'top': {}}
    for k in tops:
        _, tl, _ = pop.top(n, k)
        entry['top'][str(k)] = [l.decode('latin-1') for l in tl]
    out.append(entry)
pop.quit()
print(json.dumps(out))
