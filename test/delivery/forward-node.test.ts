/**
 * A node with LDAP accounts that have forwards and vacation texts but no
 * outbound hand-off (no [outbound] smarthosts configured): QMQP and LMTP
 * deliveries behave as before Roost read those attributes — every account
 * keeps its Maildir copy, even under deliveryMode nolocal, and no reply is
 * sent or remembered — so merging this step alone loses and defers nothing
 * (src/delivery/forward.ts, "INTEGRATION POINT").
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboxMessages } from '../helpers/maildir.js';
import { lmtpSend } from '../helpers/lmtp.js';
import { makeTempDir, startTestNode, type TestNode } from '../helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';
import { READER_DN, READER_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';

let slapd: Slapd;
let t: TestNode;

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(
    userLdif('fonly', { mail: 'fonly@example.org', mailMessageStore: 'fonly/', mailForwardingAddress: 'away@remote.example', deliveryMode: 'forwardonly' }) +
      userLdif('vac', { mail: 'vac@example.org', mailMessageStore: 'vac/', deliveryMode: 'reply', mailReplyText: 'Away.\n' }),
  );
  t = await startTestNode({
    directory: { backend: 'ldap', ldap: { url: slapd.url, bind_dn: READER_DN, bind_password: READER_PW, base: SUFFIX, cache_ttl_ms: 0 } },
  });
}, 60_000);
afterAll(async () => {
  await t?.stop();
  await slapd?.destroy();
});

async function account(address: string) {
  const r = await t.ctx.directory.lookupRecipient(address);
  if (r.kind !== 'found') throw new Error(`${address}: ${JSON.stringify(r)}`);
  return r.account;
}

const MSG = 'From: bob@sender.example\nTo: fonly@example.org, vac@example.org\nSubject: hi\n\nhello\n';

describe('forwards and vacation without an outbound hand-off', () => {
  it('QMQP: K, both accounts keep a Maildir copy, no reply remembered', async () => {
    expect(t.ctx.handOff).toBeUndefined();
    const r = await qmqpSend(t.ports.qmqp!, MSG, 'bob@sender.example', ['fonly@example.org', 'vac@example.org']);
    expect(r.code).toBe('K');
    for (const a of ['fonly@example.org', 'vac@example.org']) {
      const msgs = await inboxMessages(t.ctx.store, await account(a));
      expect(msgs, a).toHaveLength(1);
      expect(msgs[0]!.toString()).toMatch(/\nSubject: hi\n\nhello\n$/);
    }
    expect(t.ctx.vacation!.count('vac@example.org')).toBe(0);
  });

  it('LMTP: 250 for each, copies kept', async () => {
    const r = await lmtpSend(t.ports.lmtp!, MSG, 'bob@sender.example', ['fonly@example.org', 'vac@example.org']);
    expect(r.data.map((d) => d.code)).toEqual([250, 250]);
    expect(await inboxMessages(t.ctx.store, await account('fonly@example.org'))).toHaveLength(2);
    expect(await inboxMessages(t.ctx.store, await account('vac@example.org'))).toHaveLength(2);
  });
});

describe('vacation memory across a node restart', () => {
  it('a sender answered before the restart is not answered again after it', async () => {
    const dataDir = await makeTempDir();
    try {
      let n = await startTestNode({}, { dataDir });
      expect(n.ctx.vacation!.claim('vac@example.org', 'bob@sender.example', 'Away.\n')).toBe(true);
      await n.ctx.vacation!.remember('vac@example.org', 'bob@sender.example', 'Away.\n');
      await n.stop();
      n = await startTestNode({}, { dataDir });
      expect(n.ctx.vacation!.claim('vac@example.org', 'bob@sender.example', 'Away.\n')).toBe(false);
      expect(n.ctx.vacation!.count('vac@example.org')).toBe(1);
      await n.stop();
      // A lost vacation.sqlite is rebuilt from the journal at the next start.
      await rm(path.join(dataDir, 'vacation.sqlite'));
      n = await startTestNode({}, { dataDir });
      expect(n.ctx.vacation!.claim('vac@example.org', 'bob@sender.example', 'Away.\n')).toBe(false);
      await n.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
