/**
 * NOTIFY (RFC 5465) over real sockets: session B watches INBOX and other
 * mailboxes while session A (or a delivery) changes them; B gets STATUS and
 * LIST notifications with its next command's answer and during IDLE, the
 * selected mailbox keeps EXISTS/EXPUNGE, NOTIFY NONE stops everything,
 * unsupported events are NO [BADEVENT], and the pending limit overflows at
 * N+1 (NOTIFICATIONOVERFLOW) but not at N.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let a: RawImap;
let b: RawImap;

async function ok(c: RawImap, cmd: string): Promise<string[]> {
  const r = await c.cmd(cmd);
  expect(r.tagged, cmd).toMatch(/^a\d+ OK/);
  return r.untagged;
}

/** NOOP until `count` lines matching `re` came (bounded: the events arrive with the writer's commit). */
async function noopUntil(c: RawImap, re: RegExp, count = 1): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < 50 && seen.filter((l) => re.test(l)).length < count; i++) {
    seen.push(...(await ok(c, 'NOOP')));
    if (seen.filter((l) => re.test(l)).length < count) await new Promise((r) => setTimeout(r, 20));
  }
  return seen;
}

async function appendTo(c: RawImap, box: string, flags = ''): Promise<void> {
  const m = message(1);
  const r = await c.cmd(`APPEND ${box} ${flags ? `(${flags}) ` : ''}{${Buffer.byteLength(m)}+}\r\n${m}`);
  expect(r.tagged).toMatch(/^a\d+ OK/);
}

const uidvalidity = async (box: string): Promise<number> => (await n.t.ctx.store.user(n.account).status(box)).uidvalidity;

beforeAll(async () => {
  n = await startImapNode();
  a = await login(n.port, n.user, n.pass);
  b = await login(n.port, n.user, n.pass);
  await ok(a, 'CREATE Other');
  await ok(a, 'CREATE Quiet');
  await appendTo(a, 'Other');
});
afterAll(async () => {
  a?.close();
  b?.close();
  await n?.stop();
});

describe('NOTIFY SET and initial STATUS (§3.1)', () => {
  it('is advertised after login', async () => {
    expect((await ok(b, 'CAPABILITY'))[0]).toMatch(/ NOTIFY( |$)/);
  });

  it('STATUS sends each watched mailbox once, items by event; without STATUS nothing', async () => {
    const uv = await uidvalidity('Other');
    expect(await ok(b, 'NOTIFY SET STATUS (mailboxes Other (MessageExpunge))')).toEqual(['* STATUS Other (MESSAGES 1)']);
    expect(await ok(b, 'NOTIFY SET STATUS (mailboxes Other (MessageNew MessageExpunge))')).toEqual([`* STATUS Other (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${uv})`]);
    const hms = (await n.t.ctx.store.user(n.account).status('Other')).highestModseq;
    expect(await ok(b, 'NOTIFY SET STATUS (mailboxes (Other Missing) (FlagChange))')).toEqual([`* STATUS Other (UIDVALIDITY ${uv} HIGHESTMODSEQ ${hms})`]);
    expect(await ok(b, 'NOTIFY SET (mailboxes Other (MessageNew MessageExpunge FlagChange))')).toEqual([]);
    // subtree and personal match many; a mailbox with NONE events gets no STATUS.
    const lines = await ok(b, 'NOTIFY SET STATUS (mailboxes Quiet NONE) (personal (MessageExpunge))');
    expect(lines).toContain('* STATUS INBOX (MESSAGES 0)');
    expect(lines).toContain('* STATUS Other (MESSAGES 1)');
    expect(lines.some((l) => l.includes('Quiet'))).toBe(false);
  });

  it(`a NOTIFY naming more than LIMITS.imap.notifyMaxMailboxes (${LIMITS.imap.notifyMaxMailboxes}) mailboxes is NO [LIMIT]; N is fine`, async () => {
    const names = (k: number) => Array.from({ length: k }, (_, i) => `W${i}`).join(' ');
    expect((await b.cmd(`NOTIFY SET (mailboxes (${names(LIMITS.imap.notifyMaxMailboxes)}) (MessageNew))`)).tagged).toMatch(/^a\d+ OK/);
    expect((await b.cmd(`NOTIFY SET (mailboxes (${names(LIMITS.imap.notifyMaxMailboxes + 1)}) (MessageNew))`)).tagged).toMatch(/^a\d+ NO \[LIMIT\] /);
    expect(await ok(b, 'NOOP')).toEqual([]);
  });

  it('unsupported events are NO [BADEVENT] listing what is supported (§5.9), and the old setting stays', async () => {
    await ok(b, 'NOTIFY SET (mailboxes Other (MessageNew MessageExpunge))');
    const r = await b.cmd('NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))');
    expect(r.tagged).toMatch(/^a\d+ NO \[BADEVENT \(MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange\)\] /);
    await appendTo(a, 'Other');
    expect(await noopUntil(b, /^\* STATUS Other /)).toContainEqual(expect.stringMatching(/^\* STATUS Other \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+ UNSEEN 2\)$/));
    await ok(b, 'NOTIFY NONE');
  });
});

describe('change notifications (§5)', () => {
  beforeAll(async () => {
    await ok(b, 'NOTIFY SET (inboxes (MessageNew MessageExpunge FlagChange)) (mailboxes Other (MessageNew MessageExpunge FlagChange)) (personal (MailboxName SubscriptionChange))');
  });

  it('a delivery to INBOX and an APPEND elsewhere come as STATUS (by the next command at the latest)', async () => {
    await n.deliver([message(1), message(2)]);
    await appendTo(a, 'Other', '\\Seen');
    const uvIn = await uidvalidity('INBOX');
    const uvOther = await uidvalidity('Other');
    const inbox = `* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ${uvIn} UNSEEN 2)`;
    const other = `* STATUS Other (MESSAGES 3 UIDNEXT 4 UIDVALIDITY ${uvOther} UNSEEN 2)`;
    const lines = await noopUntil(b, /^\* STATUS (INBOX \(MESSAGES 2 |Other \(MESSAGES 3 )/, 2);
    // Changes that meet at one safe point share a line; the last line per mailbox has the final counts.
    expect(lines.filter((l) => l.startsWith('* STATUS INBOX')).at(-1)).toBe(inbox);
    expect(lines.filter((l) => l.startsWith('* STATUS Other')).at(-1)).toBe(other);
    // Quiet is not watched for messages.
    await appendTo(a, 'Quiet');
    expect(await ok(b, 'NOOP')).toEqual([]);
  });

  it('flag changes and expunges in another mailbox', async () => {
    await ok(a, 'SELECT Other');
    await ok(a, 'STORE 1 +FLAGS (\\Seen \\Deleted)');
    const flags = await noopUntil(b, /^\* STATUS Other /);
    expect(flags).toContainEqual(expect.stringMatching(/^\* STATUS Other \(UIDVALIDITY \d+ UNSEEN 1 HIGHESTMODSEQ \d+\)$/));
    await ok(a, 'EXPUNGE');
    const gone = await noopUntil(b, /^\* STATUS Other /);
    expect(gone).toContainEqual(expect.stringMatching(/^\* STATUS Other \(MESSAGES 2 UNSEEN 1\)$/));
    await ok(a, 'UNSELECT');
  });

  it('CREATE, RENAME, DELETE and (UN)SUBSCRIBE come as LIST (§5.4, §5.5)', async () => {
    await ok(a, 'CREATE Fresh');
    await ok(a, 'RENAME Fresh Renamed');
    await ok(a, 'SUBSCRIBE Renamed');
    await ok(a, 'UNSUBSCRIBE Renamed');
    await ok(a, 'DELETE Renamed');
    const lines = (await noopUntil(b, /^\* LIST /, 5)).filter((l) => l.startsWith('* LIST'));
    expect(lines).toEqual([
      '* LIST () "." Fresh',
      '* LIST () "." Renamed ("OLDNAME" (Fresh))',
      '* LIST (\\Subscribed) "." Renamed',
      '* LIST () "." Renamed',
      '* LIST (\\NonExistent) "." Renamed',
    ]);
  });

  it('between commands, without waiting for one (the session is quiet)', async () => {
    await appendTo(a, 'Other');
    expect(await b.waitFor(/^\* STATUS Other /)).toMatch(/^\* STATUS Other \(MESSAGES 3 UIDNEXT \d+ UIDVALIDITY \d+ UNSEEN 2\)$/);
    await ok(a, 'CREATE Pushed');
    expect(await b.waitFor(/^\* LIST /)).toBe('* LIST () "." Pushed');
    await ok(a, 'SELECT Other');
    await ok(a, 'STORE 3 +FLAGS.SILENT (\\Deleted)');
    await ok(a, 'EXPUNGE');
    await ok(a, 'UNSELECT');
    expect(await b.waitFor(/^\* STATUS Other \(MESSAGES 2 /)).toMatch(/^\* STATUS Other \(MESSAGES 2 UNSEEN 1\)$/);
    expect(await ok(b, 'NOOP')).toEqual([]);
  });

  it('during IDLE, in the authenticated state', async () => {
    b.write('i1 IDLE\r\n');
    await b.waitFor(/^\+ /);
    await appendTo(a, 'Other');
    expect(await b.waitFor(/^\* STATUS Other /)).toMatch(/^\* STATUS Other \(MESSAGES 3 UIDNEXT \d+ UIDVALIDITY \d+ UNSEEN 2\)$/);
    await n.deliver([message(3)]);
    expect(await b.waitFor(/^\* STATUS INBOX /)).toMatch(/^\* STATUS INBOX \(MESSAGES 3 /);
    b.write('DONE\r\n');
    await b.waitFor(/^i1 OK/);
  });

  it('the selected mailbox gets EXISTS, not STATUS; other mailboxes still get STATUS', async () => {
    await ok(b, 'SELECT INBOX');
    await n.deliver([message(4)]);
    await appendTo(a, 'Other');
    const lines = await noopUntil(b, /^\* (STATUS Other|\d+ EXISTS)/, 2);
    expect(lines).toContain('* 4 EXISTS');
    expect(lines.some((l) => l.startsWith('* STATUS INBOX'))).toBe(false);
    expect(lines).toContainEqual(expect.stringMatching(/^\* STATUS Other \(MESSAGES 4 /));
    // The initial STATUS of NOTIFY SET STATUS leaves the selected mailbox out too.
    const initial = await ok(b, 'NOTIFY SET STATUS (inboxes (MessageNew MessageExpunge)) (mailboxes Other (MessageNew MessageExpunge))');
    expect(initial.map((l) => l.split(' ')[2])).toEqual(['Other']);
    await ok(b, 'UNSELECT');
  });

  it('NOTIFY NONE stops them', async () => {
    await ok(b, 'NOTIFY NONE');
    await n.deliver([message(5)]);
    await appendTo(a, 'Other');
    await ok(a, 'CREATE Later');
    await ok(a, 'NOOP');
    expect(await ok(b, 'NOOP')).toEqual([]);
    expect(await ok(b, 'NOOP')).toEqual([]);
  });
});

describe('subscribed and subtree filters (§6)', () => {
  it('follow SUBSCRIBE/UNSUBSCRIBE made after NOTIFY SET, and match a subtree by prefix', async () => {
    await ok(a, 'CREATE Tree.a');
    await ok(a, 'CREATE Treetop');
    await ok(a, 'CREATE Sub');
    await ok(b, 'NOTIFY SET (subscribed (MessageNew MessageExpunge)) (subtree Tree (MessageNew MessageExpunge))');
    await ok(a, 'SUBSCRIBE Sub');
    for (const box of ['Tree.a', 'Treetop', 'Sub', 'Quiet']) await appendTo(a, box);
    const lines = (await noopUntil(b, /^\* STATUS /, 2)).filter((l) => l.startsWith('* STATUS'));
    expect(lines.map((l) => l.split(' ')[2]).sort()).toEqual(['Sub', 'Tree.a']);
    await ok(a, 'UNSUBSCRIBE Sub');
    await appendTo(a, 'Sub');
    await appendTo(a, 'Tree.a');
    const after = (await noopUntil(b, /^\* STATUS Tree\.a /)).filter((l) => l.startsWith('* STATUS'));
    expect(after.map((l) => l.split(' ')[2])).toEqual(['Tree.a']);
    await ok(b, 'NOTIFY NONE');
  });
});

describe(`overflow (§5.8): LIMITS.imap.notifyMaxPending = ${LIMITS.imap.notifyMaxPending}`, () => {
  const N = LIMITS.imap.notifyMaxPending;
  const user = () => n.t.ctx.store.user(n.account);

  /**
   * B is inside an APPEND (waiting for its literal), so nothing is pushed
   * meanwhile: `count` mailbox creations gather as pending LIST lines, and
   * the APPEND's answer carries them.
   */
  async function gatherDuringAppend(prefix: string, count: number): Promise<string[]> {
    await ok(b, `NOTIFY SET (subtree ${prefix} (MailboxName))`);
    const m = message(9);
    b.write(`p1 APPEND Quiet {${Buffer.byteLength(m)}}\r\n`);
    await b.waitFor(/^\+ /);
    for (let i = 0; i < count; i++) await user().createMailbox(`${prefix}.m${i}`, { subscribed: false });
    b.write(`${m}\r\n`);
    const r = await b.until('p1');
    expect(r.tagged).toMatch(/^p1 OK/);
    return r.untagged;
  }

  it('N pending notifications are all sent', async () => {
    const lines = await gatherDuringAppend('OvA', N);
    expect(lines.filter((l) => l.startsWith('* LIST'))).toHaveLength(N);
    expect(lines.some((l) => l.includes('NOTIFICATIONOVERFLOW'))).toBe(false);
  });

  it('N+1 give NOTIFICATIONOVERFLOW once, and then nothing (as after NOTIFY NONE)', async () => {
    const lines = await gatherDuringAppend('OvB', N + 1);
    expect(lines.filter((l) => /^\* OK \[NOTIFICATIONOVERFLOW\]/.test(l))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('* LIST'))).toBe(false);
    await user().createMailbox('OvB.after', { subscribed: false });
    await ok(a, 'NOOP');
    expect(await ok(b, 'NOOP')).toEqual([]);
  });
});
