/**
 * Real downloaders from Debian against a 1,000-message maildrop: mpop and
 * fetchmail. Keep mode twice (the second run downloads nothing: UIDLs are
 * stable), then delete mode (the maildrop ends empty, nothing else changed).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type Pop3TestNode } from './helpers.js';

const run = promisify(execFile);
const COUNT = 1000;

/** Message i: some LF-stored, some CRLF-stored, a few with dot lines and no final newline. */
function message(i: number): string {
  const body = Array.from({ length: 1 + (i % 17) }, (_, k) => (k % 5 === 4 ? `.dot line ${k}` : `line ${k} of message ${i}`));
  const text = `From: sender${i}@example.org\nTo: user@example.org\nSubject: message ${i}\nMessage-ID: <m${i}@example.org>\n\n${body.join('\n')}` + (i % 50 === 7 ? '' : '\n');
  return i % 3 === 0 ? text.replace(/\n/g, '\r\n') : text;
}

async function fill(node: Pop3TestNode, address: string, count: number): Promise<void> {
  for (let i = 0; i < count; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, k) => node.deliver(address, message(i + k))));
  }
}

async function listing(node: Pop3TestNode, address: string): Promise<string[]> {
  const box = await node.store.user(node.accounts.get(address)!).openMailbox('INBOX', { readOnly: true });
  const names = box.snapshot().messages.map((m) => m.basename);
  box.close();
  return names;
}

function maildirFiles(dir: string): string[] {
  return ['new', 'cur'].flatMap((d) => readdirSync(path.join(dir, d)).map((f) => path.join(dir, d, f)));
}

/** Message-IDs of what a downloader wrote, to compare with what was delivered. */
function messageIds(dir: string): string[] {
  return maildirFiles(dir)
    .map((f) => /^Message-ID: (<[^>]+>)/im.exec(readFileSync(f, 'latin1'))?.[1] ?? '?')
    .sort();
}

describe('downloaders', () => {
  let node: Pop3TestNode;
  beforeAll(async () => {
    node = await startNode({ allowPlaintext: 'loopback' });
    for (const u of ['mpop', 'fetchmail']) {
      await node.addUser(`${u}@example.org`, `pw-${u}`);
      await fill(node, `${u}@example.org`, COUNT);
    }
    await node.addUser('bystander@example.org', 'pw-b');
    await fill(node, 'bystander@example.org', 5);
  }, 180_000);
  afterAll(async () => {
    await node.close();
  });

  const expectedIds = Array.from({ length: COUNT }, (_, i) => `<m${i}@example.org>`).sort();

  it('mpop: keep twice (second run gets nothing), then delete; maildrop ends empty', async () => {
    const work = path.join(node.dir, 'mpop');
    const out = path.join(work, 'Maildir');
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(path.join(out, d), { recursive: true });
    const conf = path.join(work, 'mpoprc');
    const config = (keep: 'on' | 'off'): string =>
      [
        'account roost',
        'host 127.0.0.1',
        `port ${node.port}`,
        'user mpop@example.org',
        'password pw-mpop',
        'auth user',
        'tls off',
        `keep ${keep}`,
        'pipelining on',
        `uidls_file ${path.join(work, 'uidls')}`,
        `delivery maildir ${out}`,
        'timeout 60',
        '',
      ].join('\n');
    const mpop = async (): Promise<string> => {
      const r = await run('mpop', ['--quiet', '-C', conf, 'roost'], { timeout: 120_000 });
      return r.stdout + r.stderr;
    };
    const bystanderBefore = await listing(node, 'bystander@example.org');
    const before = await listing(node, 'mpop@example.org');

    writeFileSync(conf, config('on'), { mode: 0o600 });
    await mpop();
    expect(messageIds(out)).toEqual(expectedIds);
    // bytes intact: each file holds the delivered message after its first line (line ends aside)
    const lf = (t: string): string => t.replace(/\r\n/g, '\n').replace(/\n$/, '');
    for (const f of maildirFiles(out)) {
      const text = readFileSync(f, 'latin1');
      const i = Number(/^Message-ID: <m(\d+)@/im.exec(text)![1]);
      expect(lf(text)).toContain(lf(message(i)).split('\n').slice(1).join('\n'));
    }
    expect(await listing(node, 'mpop@example.org')).toEqual(before);

    await mpop();
    expect(maildirFiles(out)).toHaveLength(COUNT); // nothing new downloaded

    writeFileSync(conf, config('off'), { mode: 0o600 });
    await mpop();
    expect(maildirFiles(out)).toHaveLength(COUNT);
    expect(await listing(node, 'mpop@example.org')).toEqual([]);
    expect(await listing(node, 'bystander@example.org')).toEqual(bystanderBefore);
  }, 180_000);

  it('fetchmail: keep twice (second run gets nothing), then delete; maildrop ends empty', async () => {
    const work = path.join(node.dir, 'fetchmail');
    mkdirSync(work, { recursive: true });
    const mbox = path.join(work, 'mbox');
    const rc = path.join(work, 'fetchmailrc');
    const idfile = path.join(work, 'fetchids');
    writeFileSync(rc, `poll 127.0.0.1 service ${node.port} protocol pop3 uidl user "fetchmail@example.org" password "pw-fetchmail" sslproto '' mda "/bin/sh -c 'cat >> ${mbox}; echo >> ${mbox}'"\n`, { mode: 0o600 });
    const fetchmail = async (...args: string[]): Promise<number> => {
      try {
        await run('fetchmail', ['-f', rc, '-i', idfile, '--nosyslog', '--nodetach', '-d0', '--pidfile', path.join(work, 'pid'), ...args], {
          timeout: 150_000,
          env: { ...process.env, HOME: work, FETCHMAILHOME: work },
        });
        return 0;
      } catch (e) {
        // exit 1 = "no new mail"
        return (e as { code: number }).code;
      }
    };
    const ids = (): string[] => (readFileSync(mbox, 'latin1').match(/^Message-ID: <[^>]+>/gim) ?? []).map((l) => l.slice(12)).sort();
    const before = await listing(node, 'fetchmail@example.org');

    expect(await fetchmail('--keep')).toBe(0);
    expect(ids()).toEqual(expectedIds);
    expect(await listing(node, 'fetchmail@example.org')).toEqual(before);

    expect(await fetchmail('--keep')).toBe(1); // no new mail
    expect(ids()).toHaveLength(COUNT);

    // delete mode: the old messages are flushed (--flush), nothing is downloaded again
    expect([0, 1]).toContain(await fetchmail('--nokeep', '--flush'));
    expect(ids()).toHaveLength(COUNT);
    expect(await listing(node, 'fetchmail@example.org')).toEqual([]);
  }, 180_000);
});
