/**
 * Mail that arrives without its search fields — files dropped into the
 * Maildir by another program, an index rebuilt by `roost reindex` — gets
 * them when the store first parses the message (the header is in hand), so
 * SUBJECT/FROM/HEADER searches never read those files. Each
 * filled row equals what delivery stores for the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keptSearchFields } from '../../src/store/index/db.js';
import { searchHeader } from '../../src/store/mime/search-header.js';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;

const MESSAGES = Array.from(
  { length: 12 },
  (_, i) =>
    `From: =?UTF-8?B?${Buffer.from(`Jürgen ${i}`).toString('base64')}?= <j${i}@example.net>\n` +
    `To: alice@example.org\nSubject: drop ${i % 3 === 0 ? 'migration' : 'other'} ${i}\n` +
    `Message-ID: <drop.${i}@example.net>\n\nbody ${i}\n`,
);

/** The search_fields rows of the node's only account index, by UID. */
function rows(): Map<number, { fields: string | null; addresses: string | null }> {
  const dir = path.join(n.t.dataDir, 'index');
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.sqlite'))!;
  const db = new Database(path.join(dir, file), { readonly: true });
  try {
    db.pragma('busy_timeout = 10000');
    const all = db.prepare('SELECT uid, fields, addresses FROM search_fields').all() as { uid: number; fields: string | null; addresses: string | null }[];
    return new Map(all.map((r) => [r.uid, { fields: r.fields, addresses: r.addresses }]));
  } finally {
    db.close();
  }
}

function expected(msg: string) {
  const raw = Buffer.from(msg);
  return keptSearchFields(searchHeader(raw, 0, raw.indexOf('\n\n') + 1));
}

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  await c.cmd('SELECT INBOX');
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('search fields of messages that arrived without them', () => {
  it('files another program dropped into new/ have their rows once picked up, before any SEARCH', async () => {
    const dir = n.account.maildir;
    MESSAGES.forEach((m, i) => fs.writeFileSync(path.join(dir, 'new', `${1767225600 + i}.M${i}P9.other,S=${m.length}`), m));
    // The watcher or the next command picks them up (bounded wait on the EXISTS).
    for (let i = 0; i < 100; i++) {
      const r = await c.cmd('NOOP');
      if (r.untagged.some((l) => l === `* ${MESSAGES.length} EXISTS`)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const got = rows();
    expect(got.size).toBe(MESSAGES.length);
    MESSAGES.forEach((m, i) => expect(got.get(i + 1)).toEqual(expected(m)));
    expect((await c.cmd('UID SEARCH SUBJECT migration')).untagged[0]).toBe('* SEARCH 1 4 7 10');
  });

  it('after `roost reindex` (rows gone), the first FETCH ENVELOPE fills them; SEARCH answers the same', async () => {
    c.close();
    await n.t.ctx.store.reindex(n.account);
    expect(rows().size).toBe(0);
    c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    await c.cmd('UID FETCH 1:* (ENVELOPE)');
    const got = rows();
    expect(got.size).toBe(MESSAGES.length);
    MESSAGES.forEach((m, i) => expect(got.get(i + 1)).toEqual(expected(m)));
    expect((await c.cmd('UID SEARCH SUBJECT migration')).untagged[0]).toBe('* SEARCH 1 4 7 10');
    expect((await c.cmd(`UID SEARCH FROM "j5@example.net"`)).untagged[0]).toBe('* SEARCH 6');
  });
});
