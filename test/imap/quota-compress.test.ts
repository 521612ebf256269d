/**
 * QUOTA (RFC 9208): GETQUOTAROOT / GETQUOTA with STORAGE (KiB) and MESSAGE
 * from the account's Maildir++ limits, SETQUOTA refused, [OVERQUOTA] on
 * APPEND / COPY beyond the limit; imapflow's getQuota.
 * COMPRESS=DEFLATE (RFC 4978) with a raw client that inflates/deflates
 * itself, on the plain port and under implicit TLS; a large FETCH through
 * the compressed stream arrives intact; imapflow negotiates it on its own.
 */
import { ImapFlow } from 'imapflow';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { login } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let small: Account;

beforeAll(async () => {
  n = await startImapNode();
  // 3 messages or 4 KiB, whichever comes first.
  small = await n.t.addUser('small@example.org', 'small-pw', { quotaBytes: 4096, quotaMessages: 3 });
  await n.deliver([message(1), message(2)], { account: small });
  await n.deliver([message(3, { body: 'y'.repeat(300_000) })]);
});
afterAll(async () => {
  await n?.stop();
});

describe('QUOTA (RFC 9208)', () => {
  it('GETQUOTAROOT and GETQUOTA report usage and limits; SETQUOTA is refused', async () => {
    const c = await login(n.port, 'small@example.org', 'small-pw');
    const cap = await c.cmd('CAPABILITY');
    expect(cap.untagged[0]).toMatch(/ QUOTA .*QUOTA=RES-STORAGE QUOTA=RES-MESSAGE/);
    const q = await n.t.ctx.store.user(small).quota();
    const r = await c.cmd('GETQUOTAROOT INBOX');
    expect(r.tagged).toMatch(/OK/);
    expect(r.untagged).toEqual(['* QUOTAROOT INBOX ""', `* QUOTA "" (STORAGE ${Math.ceil(q.bytes / 1024)} 4 MESSAGE 2 3)`]);
    expect((await c.cmd('GETQUOTA ""')).untagged).toEqual([r.untagged[1]]);
    expect((await c.cmd('GETQUOTA "other"')).tagged).toMatch(/NO \[NONEXISTENT\]/);
    expect((await c.cmd('GETQUOTAROOT Missing')).tagged).toMatch(/NO \[NONEXISTENT\]/);
    expect((await c.cmd('SETQUOTA "" (STORAGE 100)')).tagged).toMatch(/NO/);
    c.close();
  });

  it('APPEND and COPY beyond the quota answer NO [OVERQUOTA]', async () => {
    const c = await login(n.port, 'small@example.org', 'small-pw');
    const m = message(9);
    c.write(`p1 APPEND INBOX {${m.length}+}\r\n${m}\r\n`);
    expect((await c.until('p1')).tagged).toMatch(/^p1 OK/);
    // Now 3 messages: the limit. One more is over.
    c.write(`p2 APPEND INBOX {${m.length}+}\r\n${m}\r\n`);
    expect((await c.until('p2')).tagged).toMatch(/^p2 NO \[OVERQUOTA\]/);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('COPY 1 Trash')).tagged).toMatch(/NO \[OVERQUOTA\]/);
    c.close();
  });

  it('an account without limits reports an empty resource list', async () => {
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('GETQUOTAROOT INBOX')).untagged).toEqual(['* QUOTAROOT INBOX ""', '* QUOTA "" ()']);
    c.close();
  });

  it('imapflow getQuota', async () => {
    const f = new ImapFlow({ host: '127.0.0.1', port: n.port, secure: false, auth: { user: 'small@example.org', pass: 'small-pw' }, logger: false, tls: { rejectUnauthorized: false } });
    await f.connect();
    const q = await f.getQuota('INBOX');
    expect(q).toMatchObject({ path: 'INBOX', message: { usage: 3, limit: 3 }, storage: { limit: 4096 } });
    await f.logout();
  });
});

/** A raw client speaking through DEFLATE after COMPRESS. */
async function compressedSession(port: number, useTls: boolean): Promise<{ cmd: (t: string) => Promise<string[]>; close: () => void; socket: net.Socket }> {
  const sock: net.Socket = await new Promise((resolve, reject) => {
    const s = useTls ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(s)) : net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
  // Text received and not yet consumed; appended as it arrives (no re-decoding of
  // what came before), and only the unscanned tail is matched, so an 8 MB body
  // costs linear time however slowly it trickles in.
  let plain = '';
  let scanned = 0;
  let waiter: (() => void) | null = null;
  const onPlain = (b: Buffer): void => {
    plain += b.toString('latin1');
    waiter?.();
  };
  sock.on('data', onPlain);
  // One generous overall deadline, woken by data: a busy machine only makes it slower.
  const readUntil = async (re: RegExp, timeoutMs = 60_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Rescan from the start of the last complete line, so `^` anchors stay honest.
      const from = scanned > 0 ? plain.lastIndexOf('\n', scanned - 1) + 1 : 0;
      if (re.test(plain.slice(from))) break;
      scanned = plain.length;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${re}: ${plain.slice(-200)}`);
      await new Promise<void>((r) => {
        waiter = r;
        setTimeout(r, 1000);
      });
      waiter = null;
    }
    const text = plain;
    plain = '';
    scanned = 0;
    return text;
  };
  await readUntil(/\r\n/);
  sock.write('l1 LOGIN "alice@example.org" "secret-pw"\r\n');
  await readUntil(/^l1 /m);
  sock.write('z1 COMPRESS DEFLATE\r\n');
  const okLine = await readUntil(/^z1 .*\r\n/m);
  expect(okLine).toMatch(/^z1 OK/m);
  sock.off('data', onPlain);
  const inflate = zlib.createInflateRaw();
  const deflate = zlib.createDeflateRaw();
  sock.pipe(inflate);
  deflate.pipe(sock);
  inflate.on('data', onPlain);
  let tagNo = 0;
  return {
    cmd: async (t: string) => {
      const tag = `c${++tagNo}`;
      deflate.write(`${tag} ${t}\r\n`);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH);
      const text = await readUntil(new RegExp(`^${tag} .*\\r\\n`, 'm'));
      return text.split('\r\n').filter((l) => l !== '');
    },
    close: () => sock.destroy(),
    socket: sock,
  };
}

describe('COMPRESS=DEFLATE (RFC 4978)', () => {
  for (const useTls of [false, true]) {
    it(`commands and a 300 kB FETCH through DEFLATE${useTls ? ' under TLS' : ''}; second COMPRESS refused`, async () => {
      const s = await compressedSession(useTls ? n.tlsPort : n.port, useTls);
      const sel = await s.cmd('SELECT INBOX');
      expect(sel.some((l) => /^\* 1 EXISTS$/.test(l))).toBe(true);
      const f = await s.cmd('FETCH 1 (BODY.PEEK[TEXT])');
      const joined = f.join('\r\n');
      expect(joined).toContain('y'.repeat(300_000));
      expect(f[f.length - 1]).toMatch(/^c2 OK/);
      const again = await s.cmd('COMPRESS DEFLATE');
      expect(again[again.length - 1]).toMatch(/^c3 NO \[COMPRESSIONACTIVE\]/);
      const noop = await s.cmd('NOOP');
      expect(noop[noop.length - 1]).toMatch(/^c4 OK/);
      // The last answers still come out of the deflater before the connection closes.
      const bye = await s.cmd('LOGOUT');
      expect(bye[0]).toMatch(/^\* BYE/);
      expect(bye[bye.length - 1]).toMatch(/^c5 OK/);
      s.close();
    });
  }

  it('a slow reader through DEFLATE: the server waits for the deflater and the socket, and the bytes arrive intact', async () => {
    // Random base64 barely compresses: about 6 MB of output for an 8 MB message.
    const text = randomBytes(6 * 1024 * 1024).toString('base64').replace(/.{76}/g, '$&\r\n');
    const [uid] = await n.deliver([message(9, { body: text })]);
    const s = await compressedSession(n.port, false);
    await s.cmd('SELECT INBOX');
    const rss0 = process.memoryUsage().rss;
    s.socket.pause();
    const pending = s.cmd(`UID FETCH ${uid} (BODY.PEEK[TEXT])`);
    await new Promise((r) => setTimeout(r, 500));
    // The server (this process) cannot have deflated the whole body into a paused socket.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(text.length);
    s.socket.resume();
    const f = await pending;
    expect(f[f.length - 1]).toMatch(/^c2 OK/);
    expect(f.join('\r\n')).toContain(text.slice(0, 100_000));
    expect(f.join('\r\n')).toContain(text.slice(-100_000));
    s.close();
  }, 120_000);

  it('imapflow negotiates COMPRESS itself and works through it', async () => {
    const f = new ImapFlow({ host: '127.0.0.1', port: n.port, secure: false, auth: { user: n.user, pass: n.pass }, logger: false, tls: { rejectUnauthorized: false } });
    await f.connect();
    const lock = await f.getMailboxLock('INBOX');
    try {
      const msg = await f.fetchOne('1', { source: true });
      expect(msg && msg.source ? msg.source.length : 0).toBeGreaterThan(300_000);
    } finally {
      lock.release();
    }
    await f.logout();
  });
});
