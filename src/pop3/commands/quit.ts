/**
 * QUIT (RFC 1939 §4, §6). Before login: just close. After login: the UPDATE
 * state — deletions go to the store (expunge with force, so IMAP sessions and
 * the journal see them), retrieved messages get \Seen (as Dovecot does), the
 * replication gate is awaited, and only then "+OK". A dropped connection
 * never gets here, so it deletes nothing.
 */
import { pop3MessagesDeleted } from '../metrics.js';
import type { TransactionState } from '../session-api.js';
import { noArgs, type Command } from './args.js';

export const quit: Command<null> = {
  states: ['authorization', 'transaction'],
  parse: noArgs,
  async run(s) {
    if (s.state.kind !== 'transaction') {
      await s.reply('+OK Logging out.');
      s.close();
      return;
    }
    await s.update(s.state, async (st: TransactionState) => {
      const { handle, maildrop } = st;
      const seen = maildrop.seenUids();
      const deleted = maildrop.deletedUids();
      if (seen.length > 0) {
        try {
          await handle.storeFlags(seen, 'add', ['\\Seen']);
        } catch (err) {
          // \Seen is a courtesy to IMAP clients; it must not stop the deletions.
          s.log.warn({ err }, 'could not flag retrieved messages \\Seen');
        }
      }
      let removed = 0;
      if (deleted.length > 0) {
        removed = (await handle.expunge({ uids: deleted, force: true })).length;
        pop3MessagesDeleted.inc(removed);
      }
      // The gate resolves when the replica has everything up to this LSN,
      // which covers the records this QUIT wrote.
      if (seen.length > 0 || deleted.length > 0) await s.ctx.replication.waitFor(s.ctx.store.lastLsn());
      return deleted.length > 0 ? `+OK Logging out, ${removed} messages deleted.` : '+OK Logging out.';
    });
  },
};
