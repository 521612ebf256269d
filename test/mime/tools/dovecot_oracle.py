#!/usr/bin/env python3
"""Ask a local Dovecot (2.3.19) for its FETCH answers, as a differential oracle.

Usage: dovecot_oracle.py OUT.json ITEMS-FILE MSG.eml [MSG.eml ...]

Runs Dovecot's imap binary in PREAUTH mode over stdin/stdout on a scratch
Maildir (mail_uid nobody), APPENDs each message and sends one
`UID FETCH <uid> (<item>)` per item listed (one item per line) in ITEMS-FILE.
Writes {name: {item: answer}} where answer is {"ok": value} (the item's
value, a literal's content or the rest of the list, as a latin-1 string),
{"no": "CODE"}, {"bye": true} (Dovecot hung up), or for a refused APPEND
{"APPEND": {"no": text}}. Dev tool only: the recorded answers are kept in
test/mime/dovecot/ and checked by test/mime/dovecot-oracle.test.ts.
"""
import json, os, re, shutil, subprocess, sys, tempfile

def item_value(resp, item):
    """The value after the item's label in `* n FETCH (UID u LABEL value)`."""
    m = re.match(rb'\* \d+ FETCH \(UID \d+ ', resp)
    rest = resp[m.end():]
    label = re.sub(r'\.PEEK', '', item)
    label = re.sub(r'<(\d+)\.\d+>$', r'<\1>', label).encode()
    assert rest.startswith(label + b' '), (rest[:80], label)
    v = rest[len(label) + 1:]
    lit = re.match(rb'~?\{(\d+)\}\r\n', v)
    if lit:
        return v[lit.end():lit.end() + int(lit.group(1))]
    assert v.endswith(b')\r\n')
    return v[:-3]


def main():
    out_path, items_path, *msgs = sys.argv[1:]
    items = [l.strip() for l in open(items_path) if l.strip()]
    root = tempfile.mkdtemp(prefix='dvoracle')
    os.chmod(root, 0o755)
    for d in ('Maildir/cur', 'Maildir/new', 'Maildir/tmp', 'run', 'state'):
        os.makedirs(os.path.join(root, d))
    conf = os.path.join(root, 'dovecot.conf')
    with open(conf, 'w') as f:
        f.write(f"mail_location = maildir:{root}/Maildir\nbase_dir = {root}/run\nstate_dir = {root}/state\n"
                f"log_path = {root}/log\nssl = no\nmail_uid = 65534\nmail_gid = 65534\nfirst_valid_uid = 0\nfirst_valid_gid = 0\n")
    subprocess.run(['chown', '-R', '65534:65534', os.path.join(root, 'Maildir'), os.path.join(root, 'state')], check=True)
    state = {}

    def start():
        state['p'] = subprocess.Popen(['/usr/lib/dovecot/imap', '-c', conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      env={'USER': 'tester', 'HOME': root, 'PATH': '/usr/bin:/bin'})
        state['buf'] = bytearray()
        read_line()  # PREAUTH greeting
        send(b'S SELECT INBOX\r\n')
        read_until_tag('S')

    def fill():
        chunk = state['p'].stdout.read1(65536)
        if not chunk:
            raise EOFError()
        state['buf'] += chunk

    def read_line():
        buf = state['buf']
        while b'\r\n' not in buf:
            fill()
        i = buf.index(b'\r\n') + 2
        line = bytes(buf[:i]); del buf[:i]
        return line

    def read_until_tag(tag):
        """Untagged bytes (literals included) up to the tagged line; tagged None if the server hung up."""
        lines = bytearray()
        try:
            while True:
                line = read_line()
                m = re.search(rb'~?\{(\d+)\}\r\n$', line)
                if m:
                    n = int(m.group(1))
                    while len(state['buf']) < n:
                        fill()
                    line += bytes(state['buf'][:n]); del state['buf'][:n]
                    lines += line
                    continue
                if line.startswith(tag.encode() + b' '):
                    return bytes(lines), line
                lines += line
        except EOFError:
            return bytes(lines), None

    def send(b):
        state['p'].stdin.write(b); state['p'].stdin.flush()

    start()
    results = {}
    for n, path in enumerate(msgs, start=1):
        data = open(path, 'rb').read()
        send(f'A{n} APPEND INBOX {{{len(data)}}}\r\n'.encode())
        line = read_line()
        while not line.startswith(b'+') and not line.startswith(f'A{n} '.encode()):
            line = read_line()
        if line.startswith(b'+'):
            send(data + b'\r\n')
            _, line = read_until_tag(f'A{n}')
        m = re.search(rb'APPENDUID \d+ (\d+)', line or b'')
        if not m:
            results[os.path.basename(path)] = {'APPEND': {'no': (line or b'').decode('latin-1').strip()}}
            continue
        uid = int(m.group(1))
        r = {}
        for k, item in enumerate(items):
            tag = f'F{uid}_{k}'
            send(f'{tag} UID FETCH {uid} ({item})\r\n'.encode())
            untagged, tagged = read_until_tag(tag)
            if tagged is None:
                r[item] = {'bye': True}
                state['p'].wait(timeout=10)
                start()
                continue
            t = tagged.decode('latin-1')[len(tag) + 1:]
            if not t.startswith('OK'):
                m = re.search(r'\[([A-Z-]+)\]', t)
                r[item] = {'no': m.group(1) if m else t.strip()}
                continue
            fetch = [l for l in re.split(rb'(?=\* \d+ FETCH)', untagged) if l.startswith(b'* ') and b' FETCH ' in l[:20]]
            r[item] = {'ok': item_value(fetch[-1], item).decode('latin-1')}
        results[os.path.basename(path)] = r
    p = state['p']
    try:
        send(b'Z LOGOUT\r\n')
    except BrokenPipeError:
        pass
    p.wait(timeout=10)
    shutil.rmtree(root, ignore_errors=True)
    json.dump(results, open(out_path, 'w'), indent=0, sort_keys=True)

if __name__ == '__main__':
    main()
