/**
 * `roost user forward add|del|list` and `roost user vacation set|off` on the
 * embedded directory: what qmail-ldap keeps in mailForwardingAddress and in
 * deliveryMode reply + mailReplyText (qmail-ldap's QLDAPINSTALL). Forwards are kept
 * in addition to the Maildir copy. Changes are journaled and replicated like
 * every other account change (./user.ts change()).
 */
import { openEmbeddedDirectory } from '../local.js';
import { LIMITS } from '../../limits.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { address, change } from './user.js';

export const forwardAdd: CliCommand = {
  path: ['user', 'forward', 'add'],
  summary: 'also forward mail for ADDRESS to TARGET through the smarthost (the Maildir copy stays)',
  args: ['<address>', '<target>'],
  async run(cli, args) {
    const target = address(args[1]);
    const r = await change(cli, { op: 'forward-add', address: address(args[0]), target });
    cli.stdout.write(`${r.address} forwards to ${target.trim()}\n`);
    return EXIT.OK;
  },
};

export const forwardDel: CliCommand = {
  path: ['user', 'forward', 'del'],
  summary: 'stop forwarding mail for ADDRESS to TARGET',
  args: ['<address>', '<target>'],
  async run(cli, args) {
    const target = address(args[1]);
    const r = await change(cli, { op: 'forward-del', address: address(args[0]), target });
    cli.stdout.write(`${r.address} no longer forwards to ${target.trim()}\n`);
    return EXIT.OK;
  },
};

export const forwardList: CliCommand = {
  path: ['user', 'forward', 'list'],
  summary: "print ADDRESS's forwarding targets, one per line",
  args: ['<address>'],
  async run(cli, args) {
    const dir = openEmbeddedDirectory(cli.config());
    try {
      for (const f of await dir.forwardsOf(address(args[0]))) cli.stdout.write(`${f}\n`);
    } finally {
      await dir.close();
    }
    return EXIT.OK;
  },
};

/** All of stdin as UTF-8, refusing more than the vacation text limit. */
async function readText(stdin: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stdin) {
    const b = Buffer.isBuffer(c) ? c : Buffer.from(String(c), 'utf8');
    size += b.length;
    if (size > LIMITS.delivery.maxReplyTextBytes) throw new UsageError(`vacation text is longer than ${LIMITS.delivery.maxReplyTextBytes} bytes`);
    chunks.push(b);
  }
  // Kept with LF line ends, as messages are (a reply is built from it line by line).
  return Buffer.concat(chunks).toString('utf8').replace(/\r\n/g, '\n');
}

export const vacationSet: CliCommand = {
  path: ['user', 'vacation', 'set'],
  summary: 'answer mail to ADDRESS with the text on stdin (RFC 3834; %HEADER% and %SUBJECT% as qmail-reply)',
  args: ['<address>'],
  async run(cli, args) {
    const addr = address(args[0]);
    const text = await readText(cli.stdin);
    if (text.trim() === '') throw new UsageError('empty vacation text on stdin (use `roost user vacation off` to stop replies)');
    const r = await change(cli, { op: 'vacation', address: addr, text });
    cli.stdout.write(`vacation replies on for ${r.address}\n`);
    return EXIT.OK;
  },
};

export const vacationOff: CliCommand = {
  path: ['user', 'vacation', 'off'],
  summary: 'stop vacation replies for ADDRESS',
  args: ['<address>'],
  async run(cli, args) {
    const r = await change(cli, { op: 'vacation', address: address(args[0]), text: '' });
    cli.stdout.write(`vacation replies off for ${r.address}\n`);
    return EXIT.OK;
  },
};
