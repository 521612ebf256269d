/** The one mapping of delivery verdicts to LMTP replies: the class digit follows K/Z/D for every reason. */
import { describe, expect, it } from 'vitest';
import { RoostError, type ErrorCode } from '../../src/errors.js';
import { verdictForError, type Verdict } from '../../src/delivery/verdict.js';
import { replyForVerdict } from '../../src/lmtp/replies.js';

const CODES: ErrorCode[] = ['NOTFOUND', 'EXISTS', 'OVERQUOTA', 'INUSE', 'READONLY', 'TEMP', 'LIMIT', 'TOOBIG', 'BADNAME', 'NOPERM', 'DISABLED', 'AUTHFAILED', 'NOLOGIN', 'UNAVAILABLE', 'PARSE', 'UNKNOWNCTE', 'NOTPRIMARY'];

describe('replyForVerdict', () => {
  it('gives 2xx for K, 4xx for Z, 5xx for D, with a matching enhanced code, for every store error and policy', () => {
    for (const policy of ['defer', 'bounce'])
      for (const code of [...CODES, null]) {
        const v = verdictForError(code ? new RoostError(code, 'x') : new Error('bug'), policy);
        const r = replyForVerdict(v, 'a@b');
        const cls = { K: '2', Z: '4', D: '5' }[v.code];
        expect(String(r.code)[0], `${code} ${policy}`).toBe(cls);
        expect(r.status[0]).toBe(cls);
        expect(r.text.startsWith('<a@b> ')).toBe(true);
      }
  });

  it('keeps a directory text\'s qmail status code when its class matches, and drops the "(#…)" suffix from the text', () => {
    const d: Verdict = { code: 'D', text: 'Sorry, this mailbox is disabled. (#5.2.1)', reason: 'directory' };
    expect(replyForVerdict(d, 'x@y')).toEqual({ code: 550, status: '5.2.1', text: '<x@y> Sorry, this mailbox is disabled.' });
    const z: Verdict = { code: 'Z', text: 'Temporary failure in LDAP lookup. (#4.4.3)', reason: 'directory' };
    expect(replyForVerdict(z, 'x@y')).toMatchObject({ code: 451, status: '4.4.3' });
    const odd: Verdict = { code: 'Z', text: 'no code here', reason: 'directory' };
    expect(replyForVerdict(odd, 'x@y')).toMatchObject({ code: 451, status: '4.3.0' });
    expect(replyForVerdict({ code: 'D', text: 'loop (#5.4.6)', reason: 'loop' }, 'x@y')).toMatchObject({ code: 554, status: '5.4.6' });
    expect(replyForVerdict({ code: 'Z', text: 'over (#4.2.2)', reason: 'overquota' }, 'x@y')).toMatchObject({ code: 452, status: '4.2.2' });
    expect(replyForVerdict({ code: 'D', text: 'big (#5.2.3)', reason: 'usertoobig' }, 'x@y')).toMatchObject({ code: 552, status: '5.2.3' });
  });
});
