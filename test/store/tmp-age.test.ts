/**
 * store.tmpMaxAgeMs at N and N+1 (maildir(5): files in tmp/ older than 36
 * hours are leftovers): when a node first opens an account, a tmp/ file
 * just younger than the limit is kept (a delivery may still own it) and one
 * just older is removed. The files sit in a real Maildir with their mtimes
 * set; the open is a real IMAP login on a restarted node.
 */
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { login } from '../imap/helpers/client.js';
import { makeTempDir, startTestNode } from '../helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';

describe('store.tmpMaxAgeMs', () => {
  it('a tmp/ file younger than the limit is kept at the account\'s first open, one older is removed', { timeout: 60_000 }, async () => {
    const dataDir = await makeTempDir('roost-tmpage-');
    const first = await startTestNode({}, { dataDir });
    const alice = await first.addUser('alice@example.org', 'pw');
    expect((await qmqpSend(first.ports.qmqp!, 'Subject: x\n\nx\n', '', ['alice@example.org'])).code).toBe('K');
    await first.stop();

    const tmp = path.join(alice.maildir, 'tmp');
    const N = LIMITS.store.tmpMaxAgeMs;
    const now = Date.now();
    // A minute either side of the limit: the open happens within seconds of this.
    const files = { young: path.join(tmp, 'young-leftover'), old: path.join(tmp, 'old-leftover') };
    for (const [name, ageMs] of [
      ['young', N - 60_000],
      ['old', N + 60_000],
    ] as const) {
      writeFileSync(files[name], 'partial\n');
      const t = (now - ageMs) / 1000;
      utimesSync(files[name], t, t);
    }

    const second = await startTestNode({}, { dataDir });
    try {
      const c = await login(second.ports.imap!, 'alice@example.org', 'pw');
      expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/OK/);
      await c.cmd('LOGOUT');
      expect(existsSync(files.young)).toBe(true);
      expect(existsSync(files.old)).toBe(false);
    } finally {
      await second.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
