#!/usr/bin/env python3
"""Ask a local Dovecot (2.3.19) for its FETCH answers, as a differential oracle.

Usage: dovecot_oracle.py OUT.json ITEMS-FILE MSG.eml [MSG.eml ...]

Runs Dovecot's imap binary in PREAUTH mode over stdin/stdout on a scratch
Maildir (mail_uid nobody), APPENDs each message and sends one
`UID FETCH <uid> (<item>)` per item listed (one item per line) in ITEMS-FILE.
Writes {name: {item: {"status", "tagged", "response"}}} where `response` is
the untagged FETCH (literals included) as a latin-1 string. Dev tool only;
the findings are kept as unit-test expectations.
"""
import json, os, re, shutil, subprocess, sys, tempfile

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
    p = subprocess.Popen(['/usr/lib/dovecot/imap', '-c', conf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         env={'USER': 'tester', 'HOME': root, 'PATH': '/usr/bin:/bin'})
    buf = bytearray()

    def read_until_tag(tag):
        """Read until a tagged line for `tag`, honouring literals; returns (untagged bytes, tagged line)."""
        nonlocal buf
        lines = bytearray()
        while True:
            while b'\r\n' not in buf:
                chunk = p.stdout.read1(65536)
                if not chunk:
                    return bytes(lines), None
                buf += chunk
            i = buf.index(b'\r\n') + 2
            line = bytes(buf[:i]); del buf[:i]
            m = re.search(rb'\{(\d+)\}\r\n$', line)
            if m:
                n = int(m.group(1))
                while len(buf) < n:
                    chunk = p.stdout.read1(65536)
                    if not chunk:
                        break
                    buf += chunk
                line += bytes(buf[:n]); del buf[:n]
                lines += line
                continue  # the rest of the logical line follows
            if line.startswith(tag.encode() + b' '):
                return bytes(lines), line
            lines += line

    def send(b):
        p.stdin.write(b); p.stdin.flush()

    read_until_tag('*')  # greeting has no tag; read_until_tag returns at EOF only, so read PREAUTH line directly
    results = {}
    send(b'S SELECT INBOX\r\n'); read_until_tag('S')
    for uid, path in enumerate(msgs, start=1):
        data = open(path, 'rb').read()
        send(f'A{uid} APPEND INBOX {{{len(data)}}}\r\n'.encode())
        # wait for continuation
        while b'\r\n' not in buf:
            buf += p.stdout.read1(65536)
        i = buf.index(b'\r\n') + 2; cont = bytes(buf[:i]); del buf[:i]
        while not cont.startswith(b'+'):
            while b'\r\n' not in buf:
                buf += p.stdout.read1(65536)
            i = buf.index(b'\r\n') + 2; cont = bytes(buf[:i]); del buf[:i]
        send(data + b'\r\n')
        read_until_tag(f'A{uid}')
        r = {}
        for k, item in enumerate(items):
            tag = f'F{uid}_{k}'
            send(f'{tag} UID FETCH {uid} ({item})\r\n'.encode())
            untagged, tagged = read_until_tag(tag)
            if tagged is None:
                r[item] = {'status': 'BYE', 'tagged': '', 'response': untagged.decode('latin-1')}
                break
            t = tagged.decode('latin-1')[len(tag) + 1:]
            fetch = [l for l in re.split(rb'(?=\* \d+ FETCH)', untagged) if l.startswith(b'* ') and b' FETCH ' in l[:20]]
            r[item] = {'status': t.split(' ', 1)[0], 'tagged': t, 'response': fetch[-1].decode('latin-1') if fetch else ''}
        results[os.path.basename(path)] = r
        if tagged is None:
            break
    try:
        send(b'Z LOGOUT\r\n')
    except BrokenPipeError:
        pass
    p.wait(timeout=10)
    shutil.rmtree(root, ignore_errors=True)
    json.dump(results, open(out_path, 'w'), indent=1)

if __name__ == '__main__':
    main()
