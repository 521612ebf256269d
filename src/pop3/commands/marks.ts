/** DELE, RSET, NOOP (RFC 1939 §5): deletion marks live in the session until QUIT. */
import { noArgs, noSuchMessage, oneMessage, type Command } from './args.js';

export const dele: Command<{ msg: number }> = {
  states: ['transaction'],
  parse: oneMessage,
  async run(s, { msg }) {
    const err = noSuchMessage(s, msg);
    if (err) return s.reply(err);
    s.tx().maildrop.markDeleted(msg);
    await s.reply(`+OK Message ${msg} deleted.`);
  },
};

export const rset: Command<null> = {
  states: ['transaction'],
  parse: noArgs,
  async run(s) {
    const { maildrop } = s.tx();
    maildrop.reset();
    const { count, octets } = maildrop.stat();
    await s.reply(`+OK ${count} messages (${octets} octets)`);
  },
};

export const noop: Command<null> = {
  states: ['transaction'],
  parse: noArgs,
  async run(s) {
    await s.reply('+OK');
  },
};
