/**
 * Protocol transcripts over a raw socket against a real node: greeting,
 * capabilities before/after login and TLS, LOGIN/AUTHENTICATE, SELECT/EXAMINE,
 * FETCH, STORE, SEARCH, COPY/MOVE with UIDPLUS, EXPUNGE, CLOSE/UNSELECT,
 * mailbox management, LIST/LSUB/XLIST, STATUS, APPEND, NAMESPACE, ID, ENABLE,
 * LOGOUT, and the error answers of each.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap, login } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;

beforeAll(async () => {
  n = await startImapNode();
  await n.deliver([message(1), message(2, { subject: 'Hello =?UTF-8?B?V8O2cmxk?=' }), message(3, { body: 'needle in a haystack' })]);
});
afterAll(async () => {
  await n?.stop();
});

describe('greeting and capabilities', () => {
  it('greets with capabilities; STARTTLS and AUTH before login on plain loopback', async () => {
    const c = await RawImap.connect(n.port);
    const greet = await c.line();
    expect(greet).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 .*STARTTLS.*AUTH=PLAIN/);
    const r = await c.cmd('CAPABILITY');
    expect(r.untagged[0]).toMatch(/^\* CAPABILITY IMAP4rev1 /);
    expect(r.untagged[0]).not.toContain('UIDPLUS');
    expect(r.tagged).toMatch(/^a1 OK/);
    c.close();
  });

  it('no STARTTLS on the implicit TLS port; after login the full list', async () => {
    const c = await RawImap.connect(n.tlsPort, { tls: true });
    const greet = await c.line();
    expect(greet).not.toContain('STARTTLS');
    const r = await c.cmd(`LOGIN ${n.user} ${n.pass}`);
    expect(r.tagged).toMatch(/^a1 OK \[CAPABILITY IMAP4rev1 .*UIDPLUS.*MOVE.*SPECIAL-USE.*APPENDLIMIT=\d+/);
    c.close();
  });

  it('STARTTLS upgrades the connection and drops STARTTLS from the list', async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    const r = await c.cmd('STARTTLS');
    expect(r.tagged).toMatch(/^a1 OK/);
    await c.startTls();
    const caps = await c.cmd('CAPABILITY');
    expect(caps.untagged[0]).not.toContain('STARTTLS');
    expect((await c.cmd(`LOGIN ${n.user} ${n.pass}`)).tagged).toMatch(/OK/);
    c.close();
  });
});

describe('authentication', () => {
  it('wrong password: NO [AUTHENTICATIONFAILED], connection stays usable', async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    const r = await c.cmd(`LOGIN ${n.user} wrong`, 10_000);
    expect(r.tagged).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);
    expect((await c.cmd('NOOP')).tagged).toMatch(/^a2 OK/);
    c.close();
  });

  it('AUTHENTICATE PLAIN with SASL-IR and with a continuation', async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    const ir = Buffer.from(`\0${n.user}\0${n.pass}`).toString('base64');
    expect((await c.cmd(`AUTHENTICATE PLAIN ${ir}`)).tagged).toMatch(/^a1 OK/);
    c.close();
    const d = await RawImap.connect(n.port);
    await d.line();
    d.write('x AUTHENTICATE PLAIN\r\n');
    expect(await d.line()).toBe('+ ');
    d.write(`${ir}\r\n`);
    expect((await d.until('x')).tagged).toMatch(/^x OK/);
    d.close();
  });

  it('AUTHENTICATE cancelled with * answers BAD', async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    c.write('x AUTHENTICATE LOGIN\r\n');
    expect(await c.line()).toMatch(/^\+ /);
    c.write('*\r\n');
    expect((await c.until('x')).tagged).toMatch(/^x BAD/);
    c.close();
  });

  it('commands in the wrong state get BAD', async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/^a1 BAD/);
    expect((await c.cmd('FETCH 1 FLAGS')).tagged).toMatch(/^a2 BAD/);
    c.close();
  });
});

describe('selected state', () => {
  it('SELECT answers FLAGS, EXISTS, UIDVALIDITY, UIDNEXT and READ-WRITE', async () => {
    const c = await login(n.port, n.user, n.pass);
    const r = await c.cmd('SELECT INBOX');
    expect(r.untagged).toContain('* 3 EXISTS');
    expect(r.untagged.some((l) => /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft/.test(l))).toBe(true);
    expect(r.untagged.some((l) => /^\* OK \[UIDVALIDITY \d+\]/.test(l))).toBe(true);
    expect(r.untagged.some((l) => /^\* OK \[UIDNEXT 4\]/.test(l))).toBe(true);
    expect(r.untagged.some((l) => /^\* OK \[PERMANENTFLAGS \(.*\\\*\)\]/.test(l))).toBe(true);
    expect(r.tagged).toMatch(/^a2 OK \[READ-WRITE\]/);
    c.close();
  });

  it('EXAMINE is read-only: STORE and EXPUNGE refused, BODY[] does not set \\Seen', async () => {
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('EXAMINE inbox')).tagged).toMatch(/OK \[READ-ONLY\]/);
    expect((await c.cmd('STORE 1 +FLAGS (\\Flagged)')).tagged).toMatch(/NO \[READ-ONLY\]/);
    expect((await c.cmd('EXPUNGE')).tagged).toMatch(/NO \[READ-ONLY\]/);
    const f = await c.cmd('FETCH 1 (BODY[] FLAGS)');
    expect(f.untagged[0]).not.toContain('\\Seen');
    c.close();
  });

  it('FETCH metadata, ENVELOPE, BODYSTRUCTURE and sections', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    const r = await c.cmd('FETCH 1:3 (UID FLAGS RFC822.SIZE INTERNALDATE)');
    expect(r.untagged).toHaveLength(3);
    expect(r.untagged[0]).toMatch(/^\* 1 FETCH \(UID 1 FLAGS \(\) RFC822\.SIZE \d+ INTERNALDATE "\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"\)$/);
    const env = await c.cmd('UID FETCH 2 (ENVELOPE BODYSTRUCTURE)');
    // The second answer comes from the rendered-text cache (fetch/shared-values.ts) and must be identical; BODY is added to the entry.
    expect((await c.cmd('UID FETCH 2 (ENVELOPE BODYSTRUCTURE)')).untagged).toEqual(env.untagged);
    const body = await c.cmd('UID FETCH 2 (BODY)');
    expect(body.untagged[0]).toMatch(/^\* 2 FETCH \(UID 2 BODY \("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" \d+ \d+\)\)$/);
    expect(env.untagged[0]).toContain('ENVELOPE ("Tue, 24 Nov 2026 10:00:02 +0000" "Hello =?UTF-8?B?V8O2cmxk?="');
    expect(env.untagged[0]).toContain('BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit"');
    const hdr = await c.cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])');
    expect(hdr.untagged[0]).toBe('* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {22}\r\nSubject: Message 1\r\n\r\n)');
    const part = await c.cmd('FETCH 1 (BODY.PEEK[TEXT]<0.4>)');
    expect(part.untagged[0]).toBe('* 1 FETCH (BODY[TEXT]<0> {4}\r\nBody)');
    const full = await c.cmd('FETCH 3 (RFC822.SIZE BODY.PEEK[])');
    const size = Number(/RFC822\.SIZE (\d+)/.exec(full.untagged[0]!)![1]);
    expect(full.untagged[0]).toContain(`BODY[] {${size}}\r\nFrom:`);
    c.close();
  });

  it('BODY[] without PEEK sets \\Seen and reports FLAGS', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    const r = await c.cmd('FETCH 1 BODY[TEXT]');
    expect(r.tagged).toMatch(/^a3 OK/);
    expect(r.untagged[0]).toMatch(/FLAGS \(\\Seen\)/);
    await c.cmd('STORE 1 -FLAGS.SILENT (\\Seen)');
    c.close();
  });

  it('bad sequence numbers get BAD and unknown UIDs are ignored', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('FETCH 9 FLAGS')).tagged).toMatch(/^a3 BAD/);
    const r = await c.cmd('UID FETCH 100:200 FLAGS');
    expect(r.untagged).toEqual([]);
    expect(r.tagged).toMatch(/^a4 OK/);
    // RFC 3501 §6.4.8: n:* includes the last message even when n is higher.
    const star = await c.cmd('UID FETCH 100:* UID');
    expect(star.untagged).toEqual(['* 3 FETCH (UID 3)']);
    c.close();
  });

  it('STORE answers FETCH FLAGS unless .SILENT; \\Recent refused', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    const r = await c.cmd('STORE 2 +FLAGS (\\Flagged $Work)');
    // RFC 3501 §7.2.6: the new keyword is announced in FLAGS before the FETCH shows it, once.
    expect(r.untagged).toEqual([
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted',
      '* 2 FETCH (FLAGS ($Work \\Flagged))',
    ]);
    expect((await c.cmd('STORE 2 FLAGS ($Work \\Flagged)')).untagged).toEqual(['* 2 FETCH (FLAGS ($Work \\Flagged))']);
    const u = await c.cmd('UID STORE 2 -FLAGS.SILENT ($Work)');
    expect(u.untagged).toEqual([]);
    expect((await c.cmd('STORE 2 +FLAGS (\\Recent)')).tagged).toMatch(/BAD/);
    const f = await c.cmd('FETCH 2 FLAGS');
    expect(f.untagged).toEqual(['* 2 FETCH (FLAGS (\\Flagged))']);
    await c.cmd('STORE 2 FLAGS.SILENT ()');
    c.close();
  });

  it('SEARCH on flags, headers (RFC 2047 decoded), body, size, UID and NOT/OR', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('SEARCH ALL')).untagged).toEqual(['* SEARCH 1 2 3']);
    expect((await c.cmd('SEARCH SUBJECT "hello"')).untagged).toEqual(['* SEARCH 2']);
    // The subject is RFC 2047-encoded on disk; the search string is UTF-8 in a literal.
    const w = Buffer.from('wÖrld');
    c.write(`s1 SEARCH CHARSET UTF-8 SUBJECT {${w.length}+}\r\n`);
    c.write(Buffer.concat([w, Buffer.from('\r\n')]));
    expect((await c.until('s1')).untagged).toEqual(['* SEARCH 2']);
    expect((await c.cmd('SEARCH BODY needle')).untagged).toEqual(['* SEARCH 3']);
    expect((await c.cmd('SEARCH TEXT "sender2@"')).untagged).toEqual(['* SEARCH 2']);
    expect((await c.cmd('SEARCH HEADER Message-ID "<m1@"')).untagged).toEqual(['* SEARCH 1']);
    expect((await c.cmd('SEARCH NOT FROM sender1 OR SUBJECT "Message 3" LARGER 1')).untagged).toEqual(['* SEARCH 2 3']);
    expect((await c.cmd('UID SEARCH UID 2:*')).untagged).toEqual(['* SEARCH 2 3']);
    expect((await c.cmd('SEARCH SENTON 24-Nov-2026 SMALLER 100000')).untagged).toEqual(['* SEARCH 1 2 3']);
    expect((await c.cmd('SEARCH CHARSET KOI8-R ALL')).tagged).toMatch(/NO \[BADCHARSET/);
    c.close();
  });
});

describe('mailboxes', () => {
  it('special-use mailboxes exist after the first login; LIST shows attributes and separator', async () => {
    const c = await login(n.port, n.user, n.pass);
    const r = await c.cmd('LIST "" "*"');
    const names = r.untagged.join('\n');
    expect(names).toMatch(/\* LIST \(\\HasNoChildren\) "\." INBOX/);
    for (const [attr, name] of [
      ['\\Drafts', 'Drafts'],
      ['\\Sent', 'Sent'],
      ['\\Trash', 'Trash'],
      ['\\Junk', 'Junk'],
      ['\\Archive', 'Archive'],
    ]) {
      expect(names).toContain(`${attr}) "." ${name}`);
    }
    const root = await c.cmd('LIST "" ""');
    expect(root.untagged).toEqual(['* LIST (\\Noselect) "." ""']);
    const x = await c.cmd('XLIST "" "*"');
    expect(x.untagged.join('\n')).toMatch(/XLIST \(\\HasNoChildren \\Inbox\) "\." INBOX/);
    expect(x.untagged.join('\n')).toContain('\\Spam) "." Junk');
    c.close();
  });

  it('CREATE, hierarchy with CHILDREN, % wildcard, RENAME, DELETE, modified UTF-7', async () => {
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('CREATE Lists.foo')).tagged).toMatch(/OK/);
    expect((await c.cmd('CREATE Lists.foo')).tagged).toMatch(/NO \[ALREADYEXISTS\]/);
    expect((await c.cmd('CREATE "Entw&APw-rfe"')).tagged).toMatch(/OK/);
    const l = await c.cmd('LIST "" "%"');
    expect(l.untagged.join('\n')).toMatch(/\((\\Noselect )?\\HasChildren\) "\." Lists/);
    expect(l.untagged.join('\n')).not.toContain('Lists.foo');
    expect(l.untagged.join('\n')).toMatch(/"\." "?Entw&APw-rfe"?/);
    expect((await c.cmd('RENAME Lists.foo Lists.bar')).tagged).toMatch(/OK/);
    const l2 = await c.cmd('LIST Lists. *');
    expect(l2.untagged).toEqual(['* LIST (\\HasNoChildren) "." Lists.bar']);
    expect((await c.cmd('DELETE Lists.bar')).tagged).toMatch(/OK/);
    expect((await c.cmd('DELETE INBOX')).tagged).toMatch(/^a\d+ NO/);
    expect((await c.cmd('DELETE nosuch')).tagged).toMatch(/NO \[NONEXISTENT\]/);
    c.close();
  });

  it('names that could escape the Maildir are refused with NO', async () => {
    const c = await login(n.port, n.user, n.pass);
    for (const bad of ['"a..b"', '"../x"', '"a/b"', '".hidden"', `"${'x'.repeat(300)}"`]) {
      expect((await c.cmd(`CREATE ${bad}`)).tagged).toMatch(/^a\d+ NO/);
    }
    c.close();
  });

  it('SUBSCRIBE/LSUB/UNSUBSCRIBE and STATUS', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('CREATE Work');
    expect((await c.cmd('SUBSCRIBE Work')).tagged).toMatch(/OK/);
    expect((await c.cmd('LSUB "" W*')).untagged).toEqual(['* LSUB (\\HasNoChildren) "." Work']);
    expect((await c.cmd('UNSUBSCRIBE Work')).tagged).toMatch(/OK/);
    expect((await c.cmd('LSUB "" W*')).untagged).toEqual([]);
    const st = await c.cmd('STATUS INBOX (MESSAGES UIDNEXT UNSEEN)');
    expect(st.untagged[0]).toMatch(/^\* STATUS INBOX \(MESSAGES \d+ UIDNEXT \d+ UNSEEN \d+\)$/);
    expect((await c.cmd('STATUS nosuch (MESSAGES)')).tagged).toMatch(/NO \[NONEXISTENT\]/);
    c.close();
  });

  it('APPEND with flags and date answers APPENDUID; missing mailbox gets TRYCREATE before the literal', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('CREATE Appended');
    const msg = message(50);
    c.write(`p1 APPEND Appended (\\Seen) "05-Jan-2025 10:00:00 +0100" {${Buffer.byteLength(msg)}}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    c.write(`${msg}\r\n`);
    const r = await c.until('p1');
    expect(r.tagged).toMatch(/^p1 OK \[APPENDUID \d+ 1\]/);
    c.write(`p2 APPEND NoSuchBox {10}\r\n`);
    expect((await c.until('p2')).tagged).toMatch(/^p2 NO \[TRYCREATE\]/);
    // LITERAL+ (RFC 7888): no continuation.
    c.write(`p3 APPEND Appended {${Buffer.byteLength(msg)}+}\r\n${msg}\r\n`);
    expect((await c.until('p3')).tagged).toMatch(/^p3 OK \[APPENDUID \d+ 2\]/);
    await c.cmd('SELECT Appended');
    const f = await c.cmd('FETCH 1 (FLAGS INTERNALDATE)');
    expect(f.untagged[0]).toBe('* 1 FETCH (FLAGS (\\Recent \\Seen) INTERNALDATE "05-Jan-2025 09:00:00 +0000")');
    c.close();
  });

  it('APPEND checks only that the mailbox exists before "+": inbox in any case, one made by another session, none after DELETE', async () => {
    const c = await login(n.port, n.user, n.pass);
    const other = await login(n.port, n.user, n.pass);
    const msg = message(51);
    const size = Buffer.byteLength(msg);
    c.write(`q1 APPEND inbox {${size}}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    c.write(`${msg}\r\n`);
    expect((await c.until('q1')).tagged).toMatch(/^q1 OK \[APPENDUID \d+ \d+\]/);
    expect((await other.cmd('CREATE Later')).tagged).toMatch(/OK/);
    c.write(`q2 APPEND Later {${size}}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    c.write(`${msg}\r\n`);
    expect((await c.until('q2')).tagged).toMatch(/^q2 OK \[APPENDUID \d+ 1\]/);
    expect((await other.cmd('DELETE Later')).tagged).toMatch(/OK/);
    c.write(`q3 APPEND Later {${size}}\r\n`);
    expect((await c.until('q3')).tagged).toMatch(/^q3 NO \[TRYCREATE\]/);
    // The connection is still in step: the refused literal was never sent.
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    c.close();
    other.close();
  });

  it('COPY and MOVE answer COPYUID; MOVE expunges; missing destination gets TRYCREATE', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('CREATE Dest');
    await c.cmd('SELECT INBOX');
    const cp = await c.cmd('COPY 1:2 Dest');
    expect(cp.tagged).toMatch(/^a\d+ OK \[COPYUID \d+ 1:2 1:2\]/);
    expect((await c.cmd('COPY 1 Nowhere')).tagged).toMatch(/NO \[TRYCREATE\]/);
    await c.cmd('SELECT Dest');
    const mv = await c.cmd('MOVE 1 INBOX');
    expect(mv.untagged[0]).toMatch(/^\* OK \[COPYUID \d+ 1 \d+\]/);
    expect(mv.untagged).toContain('* 1 EXPUNGE');
    expect(mv.tagged).toMatch(/OK/);
    const rest = await c.cmd('UID FETCH 1:* UID');
    expect(rest.untagged).toEqual(['* 1 FETCH (UID 2)']);
    c.close();
  });

  it('EXPUNGE, UID EXPUNGE and CLOSE', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('CREATE Trashy');
    await n.deliver([message(60), message(61), message(62), message(63)], { mailbox: 'Trashy' });
    await c.cmd('SELECT Trashy');
    await c.cmd('STORE 1:4 +FLAGS.SILENT (\\Deleted)');
    const u = await c.cmd('UID EXPUNGE 2');
    expect(u.untagged).toEqual(['* 2 EXPUNGE']);
    await c.cmd('STORE 1 -FLAGS.SILENT (\\Deleted)');
    const e = await c.cmd('EXPUNGE');
    expect(e.untagged).toEqual(['* 3 EXPUNGE', '* 2 EXPUNGE']);
    await c.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    const cl = await c.cmd('CLOSE');
    expect(cl.untagged).toEqual([]);
    expect((await c.cmd('STATUS Trashy (MESSAGES)')).untagged[0]).toBe('* STATUS Trashy (MESSAGES 0)');
    expect((await c.cmd('FETCH 1 FLAGS')).tagged).toMatch(/BAD/);
    c.close();
  });
});

describe('other commands', () => {
  it('NAMESPACE, ID, ENABLE, UNSELECT, NOOP, CHECK, LOGOUT', async () => {
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('NAMESPACE')).untagged).toEqual(['* NAMESPACE (("" ".")) NIL NIL']);
    expect((await c.cmd('ID ("name" "test")')).untagged[0]).toMatch(/^\* ID \("name" "Roost"/);
    expect((await c.cmd('ENABLE CONDSTORE')).untagged).toEqual(['* ENABLED CONDSTORE']);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('CHECK')).tagged).toMatch(/OK/);
    expect((await c.cmd('UNSELECT')).tagged).toMatch(/OK/);
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    const bye = await c.cmd('LOGOUT');
    expect(bye.untagged[0]).toMatch(/^\* BYE/);
    expect(await c.waitClosed()).toBe(true);
  });

  it('syntax errors get BAD with the connection usable; too many get BYE', async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    const r = await c.cmd('FROB');
    expect(r.tagged).toMatch(/^a1 BAD/);
    expect((await c.cmd('NOOP')).tagged).toMatch(/^a2 OK/);
    let bye = false;
    for (let i = 0; i < 40 && !bye; i++) {
      c.write(`b${i} FROB\r\n`);
      const l = await c.line().catch(() => '* BYE closed');
      if (l.startsWith('* BYE')) bye = true;
    }
    expect(bye).toBe(true);
    expect(await c.waitClosed()).toBe(true);
  });
});
