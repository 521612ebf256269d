"""Drive Roost's POP3 server with Python's poplib; print what it saw as JSON.

usage: poplib_client.py PORT MODE USER PASSWORD   (MODE: plain | stls | ssl)
"""
import json
import poplib
import ssl
import sys

port, mode, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

if mode == 'ssl':
    pop = poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=20)
else:
    pop = poplib.POP3('127.0.0.1', port, timeout=20)
out = {'welcome': pop.getwelcome().decode()}
out['capa_before'] = sorted(pop.capa().keys())
if mode == 'stls':
    out['stls'] = pop.stls(context=ctx).decode()
    out['capa_after_stls'] = sorted(pop.capa().keys())
pop.user(user)
out['pass'] = pop.pass_(password).decode()
out['stat'] = list(pop.stat())
resp, listing, _ = pop.list()
out['list'] = [l.decode() for l in listing]
resp, uidls, _ = pop.uidl()
out['uidl'] = [l.decode() for l in uidls]
out['retr'] = []
for line in out['list']:
    n, size = line.split()
    resp, lines, octets = pop.retr(int(n))
    out['retr'].append({'n': int(n), 'listed': int(size), 'resp': resp.decode(),
                        'octets': octets, 'text': '\r\n'.join(l.decode('latin-1') for l in lines)})
resp, lines, octets = pop.top(1, 1)
out['top'] = [l.decode('latin-1') for l in lines]
out['dele'] = pop.dele(1).decode()
out['stat_after_dele'] = list(pop.stat())
out['quit'] = pop.quit().decode()
print(json.dumps(out))
