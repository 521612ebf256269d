/**
 * Reading a stopped node's store from the test process (through the store
 * API, as a restarted node would see it): every message with its UID,
 * UIDVALIDITY, modseq, Maildir base name (the POP3 UIDL), flags and a hash of
 * its bytes, keyed by Message-ID.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import { openStore } from '../../src/store/open.js';
import { messageIdOf } from '../../src/replication/catchup.js';

export interface SeenMessage {
  account: string;
  mailbox: string;
  uid: number;
  uidvalidity: number;
  modseq: string;
  basename: string;
  flags: string;
  sha256: string;
}

export async function inspectStore(dataDir: string, accounts: string[]): Promise<Map<string, SeenMessage>> {
  const out = new Map<string, SeenMessage>();
  for (const m of await listStore(dataDir, accounts)) out.set(`${m.account} ${m.messageId}`, m);
  return out;
}

/** Every message of the accounts, in mailbox and UID order (duplicates kept); accounts moved away included. */
export async function listStore(dataDir: string, accounts: string[]): Promise<(SeenMessage & { messageId: string })[]> {
  const mailDir = path.join(dataDir, 'mail');
  const dir = openSqliteDirectory(dataDir, mailDir);
  const store = await openStore({ dataDir, mailDir, hostname: 'inspect.invalid', watch: false });
  const out: (SeenMessage & { messageId: string })[] = [];
  try {
    for (const address of accounts) {
      const account = await dir.accountById(address);
      if (!account) continue;
      const user = store.user(account, { frozenToo: true });
      for (const info of await user.listMailboxes()) {
        if (!info.selectable) continue;
        const box = await user.openMailbox(info.name, { readOnly: true });
        try {
          const snap = box.snapshot();
          for (const m of snap.messages) {
            const bytes = await box.readMessage(m.uid);
            const id = messageIdOf(bytes) ?? `no-id-${m.basename}`;
            out.push({
              messageId: id,
              account: address,
              mailbox: info.name,
              uid: m.uid,
              uidvalidity: snap.uidvalidity,
              modseq: m.modseq.toString(),
              basename: m.basename,
              flags: [...m.flags].sort().join(' '),
              sha256: createHash('sha256').update(bytes).digest('hex'),
            });
          }
        } finally {
          box.close();
        }
      }
    }
  } finally {
    await store.close();
    await dir.close();
  }
  return out;
}
