/**
 * imapflow (a client no one here wrote) across the feature list: login over
 * STARTTLS and implicit TLS, SPECIAL-USE in LIST, APPEND with APPENDUID,
 * FETCH with BODYSTRUCTURE/ENVELOPE/source, SEARCH, flags, COPY/MOVE with
 * COPYUID, UID EXPUNGE, IDLE wake-up on delivery, mailbox management.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answered } from '../../helpers/imapflow.js';
import { message, startImapNode, type ImapTestNode } from '../helpers/node.js';

let n: ImapTestNode;
const clients: ImapFlow[] = [];

function client(opts: { tls?: boolean } = {}): ImapFlow {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: opts.tls ? n.tlsPort : n.port,
    secure: opts.tls ?? false,
    auth: { user: n.user, pass: n.pass },
    logger: false,
    tls: { rejectUnauthorized: false },
  });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  n = await startImapNode();
  await n.deliver([
    message(1),
    message(2, { subject: 'Quarterly report', body: 'see the numbers' }),
    'From: Bob <bob@example.net>\r\nTo: alice@example.org\r\nSubject: multipart\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n' +
      'Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus Z=C3=BCrich\r\n--b1\r\n' +
      'Content-Type: application/octet-stream; name="a.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b1--\r\n',
  ]);
});

afterAll(async () => {
  for (const c of clients) await c.logout().catch(() => c.close());
  await n?.stop();
});

describe('imapflow', () => {
  it('logs in with STARTTLS (plain port) and with implicit TLS', async () => {
    const a = client();
    await a.connect();
    expect(a.secureConnection || a.usable).toBeTruthy();
    expect(a.capabilities.has('UIDPLUS')).toBe(true);
    expect(a.capabilities.has('MOVE')).toBe(true);
    expect(a.capabilities.has('IDLE')).toBe(true);
    const b = client({ tls: true });
    await b.connect();
    expect(b.secureConnection).toBe(true);
    await a.logout();
    await b.logout();
  });

  it('lists special-use mailboxes', async () => {
    const c = client();
    await c.connect();
    const list = await c.list();
    const byUse = new Map(list.filter((m) => m.specialUse).map((m) => [m.specialUse, m.path]));
    expect(byUse.get('\\Inbox')).toBe('INBOX');
    expect(byUse.get('\\Sent')).toBe('Sent');
    expect(byUse.get('\\Trash')).toBe('Trash');
    expect(byUse.get('\\Drafts')).toBe('Drafts');
    expect(byUse.get('\\Junk')).toBe('Junk');
    expect(byUse.get('\\Archive')).toBe('Archive');
    await c.logout();
  });

  it('fetches envelope, bodystructure, flags and source', async () => {
    const c = client();
    await c.connect();
    await c.mailboxOpen('INBOX');
    const msgs = [];
    for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, bodyStructure: true, size: true })) msgs.push(m);
    expect(msgs).toHaveLength(3);
    expect(msgs[1]!.envelope!.subject).toBe('Quarterly report');
    expect(msgs[2]!.bodyStructure!.childNodes!.map((p) => p.type)).toEqual(['text/plain', 'application/octet-stream']);
    const one = answered(await c.fetchOne('3', { source: true, bodyParts: ['1'] }), 'FETCH');
    expect(one.source!.toString()).toContain('Subject: multipart');
    expect(one.size ?? one.source!.length).toBe(one.source!.length);
    await c.logout();
  });

  it('searches headers and decoded bodies', async () => {
    const c = client();
    await c.connect();
    await c.mailboxOpen('INBOX');
    expect(await c.search({ subject: 'quarterly' })).toEqual([2]);
    expect(await c.search({ body: 'Grüße' })).toEqual([3]);
    expect(await c.search({ from: 'bob@example.net' }, { uid: true })).toEqual([3]);
    expect(await c.search({ seen: false })).toEqual([1, 2, 3]);
    await c.logout();
  });

  it('APPEND returns APPENDUID; flags; COPY and MOVE return COPYUID; UID EXPUNGE', async () => {
    const c = client();
    await c.connect();
    await c.mailboxCreate('Projects');
    const app = answered(await c.append('Projects', message(10), ['\\Seen'], new Date('2025-02-03T04:05:06Z')), 'APPEND');
    expect(app.uid).toBe(1);
    expect(app.uidValidity).toBeGreaterThan(0);
    await c.mailboxOpen('INBOX');
    await c.messageFlagsAdd('1', ['\\Flagged']);
    const f = answered(await c.fetchOne('1', { flags: true }), 'FETCH');
    expect([...f.flags!]).toContain('\\Flagged');
    const copy = answered(await c.messageCopy('1:2', 'Projects'), 'COPY');
    expect(copy.uidMap?.size).toBe(2);
    await c.mailboxOpen('Projects');
    const moved = answered(await c.messageMove('1', 'Archive', { uid: true }), 'MOVE');
    expect(moved.uidMap?.get(1)).toBeGreaterThan(0);
    const st = answered(await c.status('Projects', { messages: true }), 'STATUS');
    expect(st.messages).toBe(2);
    await c.messageFlagsAdd('1:*', ['\\Deleted']);
    await c.messageDelete('2', { uid: true });
    const left = [];
    for await (const m of c.fetch('1:*', { uid: true })) left.push(m.uid);
    expect(left).toEqual([3]);
    await c.logout();
  });

  it('renames and deletes mailboxes', async () => {
    const c = client();
    await c.connect();
    await c.mailboxCreate(['Team', 'Plans']);
    await c.mailboxRename('Team.Plans', 'Team.Ideas');
    const list = (await c.list()).map((m) => m.path);
    expect(list).toContain('Team.Ideas');
    expect(list).not.toContain('Team.Plans');
    await c.mailboxDelete('Team.Ideas');
    expect((await c.list()).map((m) => m.path)).not.toContain('Team.Ideas');
    await c.logout();
  });

  it('IDLE: a delivery reaches the idling client quickly', async () => {
    const c = client();
    await c.connect();
    await c.mailboxOpen('INBOX');
    const before = c.mailbox && typeof c.mailbox === 'object' ? c.mailbox.exists : 0;
    const got = new Promise<number>((resolve) => c.on('exists', (d: { count: number }) => resolve(d.count)));
    const idling = c.idle();
    await new Promise((r) => setTimeout(r, 100));
    await n.deliver([message(99)]);
    // Pushed while idling, with no command from the client (the wake-up latency is bench:compare's IDLE row).
    const count = await Promise.race([got, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('no EXISTS within 20 s of the delivery')), 20_000))]);
    expect(count).toBe(before + 1);
    await c.noop();
    await idling.catch(() => undefined);
    await c.logout();
  });
});
