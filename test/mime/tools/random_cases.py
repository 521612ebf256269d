#!/usr/bin/env python3
"""Random awkward MIME messages for differential runs: random_cases.py OUTDIR COUNT SEED"""
import os, random, sys

out, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
os.makedirs(out, exist_ok=True)

def pick(*xs):
    return rnd.choice(xs)

def addr():
    return pick('a@b.example', 'Name <n@x.example>', '"Q, R" <q@r>', 'x@y (Comment)', '<@r:x@y>', 'g: a@b, c@d;', 'bad', '<>',
                '=?utf-8?q?J=C3=BCrgen?= <j@x>', 'a@b, , c@d', '"unterminated <x@y>', 'a.@b', 'a@[1.2.3.4]', 'us\xe9r@x', '')

def header_fields():
    hs = []
    for name in rnd.sample(['From', 'To', 'Cc', 'Bcc', 'Sender', 'Reply-To', 'Subject', 'Date', 'Message-ID', 'In-Reply-To', 'X-Junk'], rnd.randint(0, 8)):
        if name in ('From', 'To', 'Cc', 'Bcc', 'Sender', 'Reply-To'):
            v = addr()
        elif name == 'Subject':
            v = pick('hi', 'Re: [x] Fwd: y', ' two  spaces\t', '=?utf-8?b?w6k=?= =?utf-8?q?x?=', 'caf\xe9', 'a "q" \\ b', '', 'folded\n line')
        elif name == 'Date':
            v = pick('Mon, 1 Jan 2024 00:00:00 +0000', 'garbage', '1 Jan 24 1:2 EST', '')
        else:
            v = pick('<a@b>', 'x <y@z> <w@v>', '', 'no-brackets@x')
        sep = pick(': ', ':', ' : ', ':\t')
        hs.append(name + sep + v)
    return hs

def ctype(depth):
    if depth < 3 and rnd.random() < 0.35:
        return 'multipart'
    if depth < 3 and rnd.random() < 0.1:
        return 'message'
    return 'leaf'

def body_text():
    lines = [pick('plain text', 'caf\xe9 8bit', '--not-a-boundary', '', ' ', 'x' * rnd.randint(0, 90), '=41=42', 'aGVsbG8=', 'dGVzdA', '!!')
             for _ in range(rnd.randint(0, 5))]
    return '\n'.join(lines) + pick('\n', '', '\n\n')

def entity(depth, boundaries, top=False):
    hs = header_fields() if top else []
    if top and rnd.random() < 0.8:
        hs.append('MIME-Version: 1.0')
    kind = ctype(depth)
    if kind == 'multipart':
        b = pick('B', 'b1', '=_x', 'B' + str(depth), 'BB', 'a b', '')
        if boundaries and rnd.random() < 0.2:
            b = rnd.choice(boundaries) + pick('', 'x', '_in')
        sub = pick('mixed', 'alternative', 'digest', 'related', 'MIXED')
        param = pick(f'; boundary="{b}"', f'; boundary={b}' if ' ' not in b and b else f'; boundary="{b}"', '', f';\n boundary="{b}"')
        hs.append(f'Content-Type: multipart/{sub}{param}')
        if rnd.random() < 0.2:
            hs.append('Content-Transfer-Encoding: ' + pick('7bit', 'base64'))
        parts = []
        for _ in range(rnd.randint(0, 3)):
            parts.append(entity(depth + 1, boundaries + [b]))
        body = pick('', 'preamble\n')
        for p in parts:
            body += f'--{b}' + pick('\n', '  \n', '\n') + p + pick('\n', '\n\n', '')
        if rnd.random() < 0.75:
            body += f'--{b}--' + pick('\n', '', '\nepilogue\n')
        return '\n'.join(hs) + pick('\n\n', '\n') + body
    if kind == 'message':
        hs.append('Content-Type: message/rfc822')
        if rnd.random() < 0.2:
            hs.append('Content-Transfer-Encoding: ' + pick('base64', '7bit', 'quoted-printable'))
        return '\n'.join(hs) + '\n\n' + entity(depth + 1, boundaries, top=True)
    if rnd.random() < 0.8:
        hs.append('Content-Type: ' + pick('text/plain', 'text/html; charset=utf-8', 'application/octet-stream; name="f.bin"',
                                          'image/png', 'text', '', 'TEXT/Plain; CHARSET=us-ascii', 'message/global',
                                          'text/plain; name*0*=utf-8\'\'%C3%A9; name*1=x'))
    if rnd.random() < 0.5:
        hs.append('Content-Transfer-Encoding: ' + pick('base64', 'quoted-printable', '7bit', '8bit', 'binary', 'x-uue', 'BASE64', ''))
    if rnd.random() < 0.2:
        hs.append('Content-Disposition: ' + pick('attachment; filename="a b.txt"', 'inline', 'attachment; filename*=utf-8\'\'%C3%A9'))
    if rnd.random() < 0.1:
        hs.append(pick('Content-ID: <c@x>', 'Content-Description: d', 'Content-Language: en, de', 'Content-Location: /x', 'Content-MD5: m'))
    return '\n'.join(hs) + pick('\n\n', '\n\n', '\n') + body_text()

for i in range(count):
    text = entity(0, [], top=True)
    data = text.encode('latin-1')
    mode = rnd.random()
    if mode < 0.7:
        data = data.replace(b'\n', b'\r\n')
    elif mode < 0.85:
        # mixed line ends
        lines = data.split(b'\n')
        data = b''.join((l + (b'\r\n' if rnd.random() < 0.5 else b'\n')) for l in lines[:-1]) + lines[-1]
    if not data:
        data = b'\r\n'
    open(os.path.join(out, f'r{seed}-{i:04d}.eml'), 'wb').write(data)
