"""Drive a Roost IMAP server with Python's imaplib (the classic RFC 3501
command set) and print every answer as JSON for the vitest side to check.

Usage: imaplib-classic.py PORT USER PASSWORD USER2 PASSWORD2
(the second account has a password that needs quoting)
Each step records {"step", "typ", "data"} (bytes decoded as latin-1) or
{"step", "error"} when imaplib raised (a NO/BAD answer).
"""
import imaplib
import json
import sys
import time

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
user2, password2 = sys.argv[4], sys.argv[5]
out = []


def text(v):
    if isinstance(v, bytes):
        return v.decode('latin-1')
    if isinstance(v, (list, tuple)):
        return [text(x) for x in v]
    return v


def step(name, fn, *args):
    try:
        typ, data = fn(*args)
        out.append({'step': name, 'typ': typ, 'data': text(data)})
        return typ, data
    except (imaplib.IMAP4.error, imaplib.IMAP4.abort) as e:
        out.append({'step': name, 'error': str(e)})
        return None, None


MSG1 = (b'From: Bob <bob@example.net>\r\nTo: Alice <alice@example.org>\r\n'
        b'Subject: Quarterly report\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\n'
        b'Message-ID: <q1@example.net>\r\n\r\nNumbers are up.\r\n')
MSG2 = ('From: Carl <carl@example.net>\r\nTo: Alice <alice@example.org>\r\n'
        'Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n'
        'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n'
        'Content-Transfer-Encoding: 8bit\r\n\r\nViele Grüße aus Köln.\r\n').encode('utf-8')

M = imaplib.IMAP4('127.0.0.1', port, timeout=20)
out.append({'step': 'greeting', 'typ': 'OK', 'data': [text(M.welcome)]})
step('capability', M.capability)
step('login-bad', M.login, user, 'wrong password')
step('login', M.login, user, password)
step('capability-after', M.capability)
step('list-all', M.list)
step('create-work', M.create, 'Work')
step('create-reports', M.create, 'Work.Reports')
step('create-utf7', M.create, 'Entw&APw-rfe')
step('create-exists', M.create, 'Work')
step('list-work', M.list, '""', 'Work*')
step('list-percent', M.list, '""', '%')
step('subscribe', M.subscribe, 'Work')
step('lsub', M.lsub, '""', '*')
when = imaplib.Time2Internaldate(time.mktime((2026, 11, 23, 9, 30, 0, 0, 0, -1)))
step('append-1', M.append, 'Work', r'(\Seen)', when, MSG1)
step('append-2', M.append, 'Work', None, None, MSG2)
step('append-nosuch', M.append, 'NoSuchBox', None, None, MSG1)
step('select', M.select, 'Work')
for r in ('UIDVALIDITY', 'UIDNEXT', 'FLAGS', 'PERMANENTFLAGS', 'EXISTS', 'RECENT'):
    out.append({'step': 'select-' + r, 'typ': 'OK', 'data': text(M.response(r)[1])})
step('search-all', M.search, None, 'ALL')
step('search-seen', M.search, None, 'SEEN')
step('search-unseen-from', M.search, None, 'UNSEEN', 'FROM', '"carl"')
step('search-or', M.search, None, '(OR SUBJECT quarterly SUBJECT nothing)')
M.literal = 'Grüße'.encode('utf-8')
step('search-utf8-literal', M.search, 'UTF-8', 'SUBJECT')
M.literal = 'Köln'.encode('utf-8')
step('search-body-literal', M.search, 'UTF-8', 'BODY')
step('search-badcharset', M.search, 'KOI8-R', 'ALL')
step('fetch-fast', M.fetch, '1:*', '(FLAGS RFC822.SIZE INTERNALDATE)')
step('fetch-header-field', M.fetch, '1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
step('fetch-envelope', M.fetch, '1', '(ENVELOPE)')
step('fetch-bodystructure', M.fetch, '2', '(BODYSTRUCTURE)')
step('fetch-rfc822', M.fetch, '2', '(RFC822)')
step('fetch-flags-after-rfc822', M.fetch, '2', '(FLAGS)')
step('fetch-partial', M.fetch, '1', '(BODY.PEEK[TEXT]<0.7>)')
step('fetch-bad-item', M.fetch, '1', '(FLAGS BOGUS)')
step('fetch-bad-seq', M.fetch, '99', '(FLAGS)')
step('store-flagged', M.store, '1', '+FLAGS', r'(\Flagged)')
step('store-silent', M.store, '2', '+FLAGS.SILENT', r'(\Deleted)')
step('store-keyword', M.store, '1', '+FLAGS', '($Important)')
typ, data = step('uid-search', M.uid, 'SEARCH', 'ALL')
uids = data[0].decode().split() if data else []
out.append({'step': 'uids', 'typ': 'OK', 'data': uids})
step('uid-fetch', M.uid, 'FETCH', ','.join(uids), '(UID FLAGS)')
step('uid-store', M.uid, 'STORE', uids[0] if uids else '1', '-FLAGS', r'(\Flagged)')
step('uid-copy', M.uid, 'COPY', uids[0] if uids else '1', 'INBOX')
step('copy', M.copy, '1', 'Work.Reports')
step('status', M.status, 'Work', '(MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)')
step('status-reports', M.status, 'Work.Reports', '(MESSAGES)')
step('expunge', M.expunge)
step('check', M.check)
step('noop', M.noop)
step('search-after-expunge', M.search, None, 'ALL')
step('close', M.close)
step('examine', M.select, 'Work', True)
step('examine-store', M.store, '1', '+FLAGS', r'(\Seen)')
step('fetch-flags-readonly', M.fetch, '1:*', '(FLAGS)')
step('close-2', M.close)
step('rename', M.rename, 'Work.Reports', 'Work.Archive')
step('list-after-rename', M.list, '""', 'Work*')
step('delete-utf7', M.delete, 'Entw&APw-rfe')
step('delete-nosuch', M.delete, 'NoSuchBox')
step('select-nosuch', M.select, 'NoSuchBox')
step('namespace', M.namespace)
step('unsubscribe', M.unsubscribe, 'Work')
step('lsub-after', M.lsub, '""', 'Work*')
step('select-inbox', M.select, 'inbox')
step('fetch-inbox-copy', M.fetch, '1:*', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
step('logout', M.logout)

# AUTHENTICATE PLAIN: imaplib answers the server's "+" with a base64 line.
A = imaplib.IMAP4('127.0.0.1', port, timeout=20)
step('auth-plain-bad', A.authenticate, 'PLAIN', lambda _: ('\0%s\0%s' % (user, 'nope')).encode())
step('auth-plain', A.authenticate, 'PLAIN', lambda _: ('\0%s\0%s' % (user, password)).encode())
step('auth-select', A.select, 'INBOX', True)
step('auth-logout', A.logout)

# LOGIN with a password imaplib must quote (space, quote, backslash, braces).
B = imaplib.IMAP4('127.0.0.1', port, timeout=20)
step('login-quoted', B.login, user2, password2)
step('login-quoted-list', B.list, '""', '*')
step('login-quoted-logout', B.logout)
print(json.dumps(out))
