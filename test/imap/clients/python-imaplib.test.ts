/**
 * Python's imaplib (a client no one here wrote) against a real node: the
 * classic RFC 3501 command set as imaplib sends it — synchronising literals
 * for APPEND and SEARCH CHARSET, its quoting, its parsing of our answers.
 * The Python side (imaplib-classic.py) records every answer; the checks are here.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImapNode, type ImapTestNode } from '../helpers/node.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'imaplib-classic.py');

const USER2 = 'bob@example.org';
const PASS2 = 'p"a\\ss w{3}rd';

interface Step {
  step: string;
  typ?: string;
  data?: unknown[];
  error?: string;
}

let n: ImapTestNode;
let steps: Map<string, Step>;

function get(name: string): Step {
  const s = steps.get(name);
  if (!s) throw new Error(`step ${name} did not run`);
  return s;
}

/** OK answer and its data lines flattened to strings (literal parts joined). */
function ok(name: string): string[] {
  const s = get(name);
  expect(s.error, `${name}: ${s.error}`).toBeUndefined();
  expect(s.typ, `${name}: ${JSON.stringify(s.data)}`).toBe('OK');
  return (s.data ?? []).map((d) => (Array.isArray(d) ? d.join('') : String(d)));
}

beforeAll(async () => {
  n = await startImapNode();
  await n.t.addUser(USER2, PASS2);
  const r = await promisify(execFile)('python3', [SCRIPT, String(n.port), n.user, n.pass, USER2, PASS2], { timeout: 60_000 });
  steps = new Map((JSON.parse(r.stdout) as Step[]).map((s) => [s.step, s]));
}, 90_000);

afterAll(async () => {
  await n?.stop();
});

describe('Python imaplib, classic command set', () => {
  it('greeting, capabilities, LOGIN (wrong password, then right)', () => {
    expect(ok('greeting')[0]).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 /);
    expect(ok('capability')[0]).toContain('IMAP4rev1');
    expect(get('login-bad').error).toContain('[AUTHENTICATIONFAILED]');
    expect(ok('login')[0]).toMatch(/\[CAPABILITY IMAP4rev1 .*UIDPLUS/);
  });

  it('LIST, CREATE (incl. modified UTF-7 name), SUBSCRIBE/LSUB', () => {
    expect(ok('list-all')).toContain('(\\HasNoChildren) "." INBOX');
    expect(ok('create-work')).toHaveLength(1);
    ok('create-reports');
    ok('create-utf7');
    expect(get('create-exists').typ).toBe('NO');
    const work = ok('list-work');
    expect(work.some((l) => l.endsWith('"." Work') && l.includes('\\HasChildren'))).toBe(true);
    expect(work.some((l) => l.endsWith('"." Work.Reports'))).toBe(true);
    const top = ok('list-percent');
    expect(top.some((l) => l.endsWith('"." Entw&APw-rfe'))).toBe(true);
    expect(top.some((l) => l.endsWith('Work.Reports'))).toBe(false);
    ok('subscribe');
    expect(ok('lsub').some((l) => l.endsWith('"." Work'))).toBe(true);
  });

  it('APPEND with flags and date over synchronising literals, APPENDUID, TRYCREATE', () => {
    expect(ok('append-1')[0]).toMatch(/^\[APPENDUID \d+ 1\]/);
    expect(ok('append-2')[0]).toMatch(/^\[APPENDUID \d+ 2\]/);
    expect(get('append-nosuch')).toMatchObject({ typ: 'NO' });
    expect(String(get('append-nosuch').data?.[0])).toContain('[TRYCREATE]');
  });

  it('SELECT answers imaplib reads', () => {
    expect(ok('select')).toEqual(['2']);
    expect(ok('select-EXISTS')).toEqual(['2']);
    // Both APPENDs arrived before this first SELECT: recent here (RFC 3501 §2.3.2).
    expect(ok('select-RECENT')).toEqual(['2']);
    expect(ok('select-UIDNEXT')).toEqual(['3']);
    expect(ok('select-UIDVALIDITY')[0]).toMatch(/^[1-9][0-9]*$/);
    expect(ok('select-FLAGS')[0]).toContain('\\Seen');
    expect(ok('select-PERMANENTFLAGS')[0]).toContain('\\*');
  });

  it('SEARCH: flags, strings, OR group, UTF-8 literals, bad charset', () => {
    expect(ok('search-all')).toEqual(['1 2']);
    expect(ok('search-seen')).toEqual(['1']);
    expect(ok('search-unseen-from')).toEqual(['2']);
    expect(ok('search-or')).toEqual(['1']);
    expect(ok('search-utf8-literal')).toEqual(['2']);
    expect(ok('search-body-literal')).toEqual(['2']);
    expect(get('search-badcharset').typ).toBe('NO');
    expect(String(get('search-badcharset').data?.[0])).toContain('[BADCHARSET');
  });

  it('FETCH: flags/size/date, header fields, envelope, bodystructure, RFC822 sets \\Seen, partial, errors', () => {
    const fast = ok('fetch-fast');
    expect(fast[0]).toBe('1 (FLAGS (\\Recent \\Seen) RFC822.SIZE 175 INTERNALDATE "23-Nov-2026 09:30:00 +0000")');
    expect(fast[1]).toMatch(/^2 \(FLAGS \(\\Recent\) RFC822\.SIZE 260 INTERNALDATE "/);
    expect(ok('fetch-header-field')[0]).toBe('1 (BODY[HEADER.FIELDS (SUBJECT)] {29}Subject: Quarterly report\r\n\r\n');
    expect(ok('fetch-envelope')[0]).toContain('"Quarterly report" (("Bob" NIL "bob" "example.net"))');
    expect(ok('fetch-bodystructure')[0]).toBe('2 (BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 26 1 NIL NIL NIL NIL))');
    const rfc822 = ok('fetch-rfc822')[0]!;
    expect(rfc822).toMatch(/RFC822 \{260\}From: Carl/);
    expect(Buffer.from(rfc822, 'latin1').toString('utf8')).toContain('Viele Grüße aus Köln.');
    expect(ok('fetch-flags-after-rfc822')).toEqual(['2 (FLAGS (\\Recent \\Seen))']);
    expect(ok('fetch-partial')[0]).toBe('1 (BODY[TEXT]<0> {7}Numbers');
    expect(get('fetch-bad-item').error).toContain('Unknown FETCH item BOGUS');
    expect(get('fetch-bad-seq').error).toContain('BAD');
  });

  it('STORE and the UID commands', () => {
    expect(ok('store-flagged')).toEqual(['1 (FLAGS (\\Recent \\Flagged \\Seen))']);
    expect(ok('store-silent')).toEqual(['null']); // no untagged FETCH
    expect(ok('store-keyword')[0]).toContain('$Important');
    expect(ok('uid-search')).toEqual(['1 2']);
    expect(ok('uid-fetch')).toEqual(['1 (UID 1 FLAGS (\\Recent $Important \\Flagged \\Seen))', '2 (UID 2 FLAGS (\\Recent \\Deleted \\Seen))']);
    expect(ok('uid-store')).toEqual(['1 (UID 1 FLAGS (\\Recent $Important \\Seen))']);
    ok('uid-copy');
    expect(ok('copy')[0]).toMatch(/^\[COPYUID \d+ 1 1\]/);
  });

  it('STATUS, EXPUNGE, CHECK, NOOP, CLOSE, EXAMINE is read-only', () => {
    expect(ok('status')[0]).toMatch(/^Work \(MESSAGES 2 UNSEEN 0 UIDNEXT 3 UIDVALIDITY \d+ RECENT 0\)$/);
    expect(ok('status-reports')).toEqual(['Work.Reports (MESSAGES 1)']);
    expect(ok('expunge')).toEqual(['2']);
    ok('check');
    ok('noop');
    expect(ok('search-after-expunge')).toEqual(['1']);
    ok('close');
    expect(ok('examine')).toEqual(['1']);
    expect(get('examine-store').typ).toBe('NO');
    expect(ok('fetch-flags-readonly')).toEqual(['1 (FLAGS ($Important \\Seen))']);
    ok('close-2');
  });

  it('RENAME, DELETE, NAMESPACE, UNSUBSCRIBE, the copy in INBOX, LOGOUT', () => {
    ok('rename');
    const after = ok('list-after-rename');
    expect(after.some((l) => l.endsWith('Work.Archive'))).toBe(true);
    expect(after.some((l) => l.endsWith('Work.Reports'))).toBe(false);
    ok('delete-utf7');
    expect(get('delete-nosuch').typ).toBe('NO');
    expect(get('select-nosuch').typ).toBe('NO');
    expect(ok('namespace')).toEqual(['(("" ".")) NIL NIL']);
    ok('unsubscribe');
    // Work is gone from LSUB once unsubscribed.
    const lsub = ok('lsub-after');
    expect(lsub.some((l) => l.endsWith('"." Work'))).toBe(false);
    expect(ok('select-inbox')).toEqual(['1']);
    expect(ok('fetch-inbox-copy')[0]).toContain('Subject: Quarterly report');
    expect(get('logout').typ).toBe('BYE');
  });

  it('AUTHENTICATE PLAIN over the continuation, and LOGIN with a password that needs quoting', () => {
    expect(get('auth-plain-bad').error).toContain('AUTHENTICATIONFAILED');
    ok('auth-plain');
    ok('auth-select');
    ok('login-quoted');
    expect(ok('login-quoted-list').some((l) => l.endsWith('"." INBOX'))).toBe(true);
    expect(get('login-quoted-logout').typ).toBe('BYE');
  });
});
