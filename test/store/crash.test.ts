/**
 * kill -9 while deliveries stream in, several rounds, against a child process
 * running the real store (its sources transpiled for plain node). After each
 * restart: every acknowledged message is present and intact, nothing appears
 * twice, tmp/ holds nothing, and the index agrees with the Maildir.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { account, spoolWithData, files, open, tempDir } from './helpers.js';
import { buildStoreChild } from '../helpers/store-child.js';

const root = tempDir('roost-crash-');
afterAll(() => { if (!process.env.KEEP) fs.rmSync(root, { recursive: true, force: true }); else console.log("ROOT", root); });

// The child: eight writers deliver until killed, printing K <id> <copies> once a delivery is acknowledged.
const CHILD = `import { openStore } from './store/open.js';
const [dataDir, maildirA, maildirB, round] = process.argv.slice(2);
const acct = (id, maildir) => ({ id, address: id, login: id, maildir, quotaBytes: 0, quotaMessages: 0, maxMessageSize: 0, status: 'active' });
const a = acct('a@x', maildirA), b = acct('b@x', maildirB);
const store = await openStore({ dataDir, mailDir: dataDir, hostname: 'crash.host' });
let n = 0;
const worker = async (w) => {
  for (;;) {
    const k = n++;
    const two = k % 3 === 0;
    const id = round + '-' + w + '-' + k;
    const body = 'Message-ID: <' + id + '@t>\\nSubject: ' + id + '\\n\\n' + 'x'.repeat(3000 + (k % 500)) + '\\n';
    const d = await store.createDraft();
    await d.write(Buffer.from(body));
    await d.finish();
    await store.deliver(two ? [a, b] : [a], d, { sender: 's@x' });
    process.stdout.write('K ' + id + ' ' + (two ? 2 : 1) + '\\n');
  }
};
for (let w = 0; w < 8; w++) worker(w);
`;

function readAllFiles(dir: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const sub of ['new', 'cur'] as const) for (const n of files(dir, sub)) m.set(`${sub}/${n}`, fs.readFileSync(path.join(dir, sub, n)));
  return m;
}

describe('kill -9 during deliveries', () => {
  it('keeps every acknowledged message once, intact, with the index matching the Maildir', async () => {
    const js = buildStoreChild(root, CHILD);
    const dataDir = path.join(root, 'data');
    const a = account(root, 'a');
    const b = account(root, 'b');
    const acked = new Map<string, number>();
    for (let round = 0; round < 4; round++) {
      const child = spawn(process.execPath, [path.join(js, 'child.js'), dataDir, a.maildir, b.maildir, String(round)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let buf = '';
      child.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const [, id, copies] = buf.slice(0, i).split(' ');
          acked.set(id!, Number(copies));
          buf = buf.slice(i + 1);
        }
      });
      const start = acked.size;
      const deadline = Date.now() + 15_000;
      while (acked.size < start + 30 + round * 17 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 20)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      expect(acked.size).toBeGreaterThan(start);
    }
    const store = await open(root);
    // Spool files of the killed processes are gone.
    expect(spoolWithData(store.spoolDir)).toEqual([]);
    for (const acc of [a, b]) {
      const box = await store.user({ ...acc, id: acc === a ? 'a@x' : 'b@x' }).openMailbox('INBOX');
      const snap = box.snapshot();
      const disk = readAllFiles(acc.maildir);
      // The index agrees with the Maildir: same messages, same names.
      expect(snap.messages.map((m) => m.basename).sort()).toEqual([...disk.keys()].map((k) => k.slice(4).split(':')[0]!).sort());
      expect(files(acc.maildir, 'tmp')).toEqual([]);
      const ids = new Map<string, number>();
      for (const [name, body] of disk) {
        const id = /Subject: (\S+)/.exec(body.toString())![1]!;
        ids.set(id, (ids.get(id) ?? 0) + 1);
        // Intact: size matches S= and the body is whole.
        expect(body.length).toBe(Number(/,S=(\d+)/.exec(name)![1]));
        expect(body.toString().endsWith('x\n')).toBe(true);
      }
      expect([...ids.values()].every((c) => c === 1)).toBe(true);
      for (const [id, copies] of acked) if (acc === a || copies === 2) expect(ids.has(id), id).toBe(true);
      box.close();
    }
    await store.close();
  }, 120_000);
});
