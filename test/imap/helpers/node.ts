/**
 * A real Roost node for IMAP tests (test/helpers/node.ts boots it on port 0
 * over a temp dir) plus delivery through the store API, the way QMQP
 * delivers, so tests see the same events a real delivery makes.
 */
import type { Account } from '../../../src/accounts/directory.js';
import { startTestNode, type Overrides, type TestNode } from '../../helpers/node.js';

export interface ImapTestNode {
  t: TestNode;
  port: number;
  tlsPort: number;
  account: Account;
  user: string;
  pass: string;
  /** Deliver raw messages to INBOX (or `mailbox`) of `account`. */
  deliver(messages: (string | Buffer)[], opts?: { account?: Account; mailbox?: string; internalDate?: Date }): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startImapNode(overrides: Overrides = {}): Promise<ImapTestNode> {
  const t = await startTestNode(overrides);
  const user = 'alice@example.org';
  const pass = 'secret-pw';
  const account = await t.addUser(user, pass);
  const port = t.ports.imap!;
  const tlsPort = t.ports.imaps!;
  return {
    t,
    port,
    tlsPort,
    account,
    user,
    pass,
    async deliver(messages, opts = {}) {
      const uids: number[] = [];
      for (const m of messages) {
        const draft = await t.ctx.store.createDraft();
        await draft.write(Buffer.isBuffer(m) ? m : Buffer.from(m));
        await draft.finish();
        const saved = await t.ctx.store.deliver([opts.account ?? account], draft, {
          sender: 'test@example.org',
          mailbox: opts.mailbox,
          internalDate: opts.internalDate,
        });
        uids.push(saved[0]!.uid);
      }
      return uids;
    },
    stop: () => t.stop(),
  };
}

/** The IMAP tests' message builder (test/helpers/messages.ts). */
export { numberedMessage as message } from '../../helpers/messages.js';
