/**
 * STAT, LIST and UIDL (RFC 1939 §5, §7): answered from the listing taken at
 * login (the index snapshot) — no message file is opened or stat'ed. Sizes
 * are the CRLF sizes (vsize, RFC 1939 §11), UIDLs the Maildir base names as
 * qmail-pop3d and Courier report them, or pop3.uidl_format (src/accounts/uidl-format.ts).
 */
import type { MessageRecord } from '../../store/store.js';
import type { Maildrop } from '../maildrop.js';
import { noArgs, noSuchMessage, optionalMessage, type Command } from './args.js';

export const stat: Command<null> = {
  states: ['transaction'],
  parse: noArgs,
  async run(s) {
    const { count, octets } = s.tx().maildrop.stat();
    await s.reply(`+OK ${count} ${octets}`);
  },
};

/**
 * LIST and UIDL share one shape (RFC 1939 §7): with a number, one `+OK n value`
 * line (or -ERR for a missing or deleted message); without, a multi-line
 * listing of every message not marked deleted.
 */
function perMessage(
  value: (m: MessageRecord, maildrop: Maildrop) => string | number,
  header: (maildrop: Maildrop) => string,
): Command<{ msg: number | null }> {
  return {
    states: ['transaction'],
    parse: optionalMessage,
    async run(s, { msg }) {
      const { maildrop } = s.tx();
      if (msg !== null) {
        const err = noSuchMessage(s, msg);
        if (err) return s.reply(err);
        const look = maildrop.get(msg);
        if (look.kind === 'ok') await s.reply(`+OK ${msg} ${value(look.record, maildrop)}`);
        return;
      }
      await s.reply(header(maildrop));
      const out = s.listing();
      for (const [n, m] of maildrop.live()) await out.line(`${n} ${value(m, maildrop)}`);
      await out.end();
    },
  };
}

export const list = perMessage(
  (m) => m.vsize,
  (maildrop) => {
    const { count, octets } = maildrop.stat();
    return `+OK ${count} messages (${octets} octets)`;
  },
);

export const uidl = perMessage(
  (m, maildrop) => maildrop.uidl(m),
  () => '+OK Unique-ID listing follows',
);
