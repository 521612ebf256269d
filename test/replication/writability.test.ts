/**
 * Writability has one owner: the node's durable replication state
 * (src/replication/epoch.ts). The ack gate, the node's role and the store's
 * write check all read it, so a role change reaches every reader at once —
 * even a change made to the owner alone, with nobody telling the others.
 * A real store and a real Replication component in one process.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { pino } from 'pino';
import { Replication } from '../../src/replication/node-replication.js';
import { loadTls } from '../../src/net/tls.js';
import type { Directory } from '../../src/accounts/directory.js';
import { isRoostError } from '../../src/errors.js';
import { testConfig } from '../helpers/node.js';
import { account, deliver, message, open, tempDir } from '../store/helpers.js';

const log = pino({ level: process.env.ROOST_TEST_LOG ?? 'silent' });
const directory = { accountById: async () => null } as unknown as Directory;
const root = tempDir('roost-writability-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** The error a promise rejects with (or null when it resolves). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (e: unknown) => e,
  );
}

describe('one owner of writability', () => {
  it('promote, demote and a change to the owner alone reach the gate, the role and the store at once', async () => {
    const store = await open(root);
    const a = account(root, 'w');
    await deliver(store, [a], message('before'));
    const config = testConfig(root, { replication: { role: 'primary' } });
    const repl = await Replication.create({
      config,
      log,
      store,
      directory,
      tls: await loadTls(config, log),
      ports: { open: async () => undefined, close: async () => undefined },
    });
    try {
      await repl.start();
      const readers = (): [string, boolean, boolean] => [repl.role, repl.gate.writable, store.isWritable()];
      expect(readers()).toEqual(['primary', true, true]);
      await store.user(a).createMailbox('Kept');

      expect(await repl.demote()).toMatchObject({ role: 'replica', changed: true });
      expect(readers()).toEqual(['replica', false, false]);
      // Refused with the replica's error, not a generic failure (the client retries on the primary).
      expect(isRoostError(await failure(store.user(a).createMailbox('Refused')), 'NOTPRIMARY')).toBe(true);
      expect(isRoostError(await failure(deliver(store, [a], message('refused'))), 'NOTPRIMARY')).toBe(true);
      expect(isRoostError(await failure(repl.gate.waitFor(store.lastLsn())), 'NOTPRIMARY')).toBe(true);

      expect(await repl.promote({ force: true })).toMatchObject({ role: 'primary', changed: true });
      expect(readers()).toEqual(['primary', true, true]);
      await store.user(a).createMailbox('Again');
      expect(await deliver(store, [a], message('after'))).toHaveLength(1);

      // The owner changes and nothing else is told: every reader follows it, none keeps a copy.
      const epochs = (repl as unknown as { epochs: { update(c: { role: 'primary' | 'replica' }): Promise<void> } }).epochs;
      await epochs.update({ role: 'replica' });
      expect(readers()).toEqual(['replica', false, false]);
      expect(isRoostError(await failure(store.user(a).createMailbox('Owner')), 'NOTPRIMARY')).toBe(true);
      await epochs.update({ role: 'primary' });
      expect(readers()).toEqual(['primary', true, true]);
      await store.user(a).createMailbox('Owner');
      const names = (await store.user(a).listMailboxes()).map((m) => m.name);
      expect(names).toEqual(expect.arrayContaining(['INBOX', 'Kept', 'Again', 'Owner']));
      expect(names).not.toContain('Refused');
    } finally {
      await repl.close();
      await store.close();
    }
  }, 60_000);
});
