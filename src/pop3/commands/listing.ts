/**
 * STAT, LIST and UIDL (RFC 1939 §5, §7): answered from the listing taken at
 * login (the index snapshot) — no message file is opened or stat'ed. Sizes
 * are the CRLF sizes (vsize, RFC 1939 §11), UIDLs the Maildir base names as
 * qmail-pop3d and Courier report them.
 */
import { noArgs, noSuchMessage, optionalMessage, type Command } from './args.js';

export const stat: Command<null> = {
  states: ['transaction'],
  parse: noArgs,
  async run(s) {
    const { count, octets } = s.tx().maildrop.stat();
    await s.reply(`+OK ${count} ${octets}`);
  },
};

export const list: Command<{ msg: number | null }> = {
  states: ['transaction'],
  parse: optionalMessage,
  async run(s, { msg }) {
    const { maildrop } = s.tx();
    if (msg !== null) {
      const err = noSuchMessage(s, msg);
      if (err) return s.reply(err);
      const look = maildrop.get(msg);
      if (look.kind === 'ok') await s.reply(`+OK ${msg} ${look.record.vsize}`);
      return;
    }
    const { count, octets } = maildrop.stat();
    await s.reply(`+OK ${count} messages (${octets} octets)`);
    const out = s.listing();
    for (const [n, m] of maildrop.live()) await out.line(`${n} ${m.vsize}`);
    await out.end();
  },
};

export const uidl: Command<{ msg: number | null }> = {
  states: ['transaction'],
  parse: optionalMessage,
  async run(s, { msg }) {
    const { maildrop } = s.tx();
    if (msg !== null) {
      const err = noSuchMessage(s, msg);
      if (err) return s.reply(err);
      const look = maildrop.get(msg);
      if (look.kind === 'ok') await s.reply(`+OK ${msg} ${look.record.basename}`);
      return;
    }
    await s.reply('+OK Unique-ID listing follows');
    const out = s.listing();
    for (const [n, m] of maildrop.live()) await out.line(`${n} ${m.basename}`);
    await out.end();
  },
};
