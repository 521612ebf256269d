/**
 * The HandOff final delivery uses (./forward.ts), built on src/outbound's
 * smarthost client from `[outbound] smarthosts`. Only smarthosts matter
 * here: forwards and vacation replies go out whatever the target's domain,
 * as qmail-local's forwards went to qmail-queue.
 *
 * Forwards stream the finished draft (Draft.openReader) like remote
 * recipients do (./remote.ts); vacation replies are a composed Buffer.
 */
import { isAscii } from 'node:buffer';
import { Readable } from 'node:stream';
import type { Config } from '../config/schema.js';
import { RoostError } from '../errors.js';
import type { Outbound } from '../outbound/handoff.js';
import type { HandOff } from './forward.js';
import { handOffVerdict } from './remote.js';
import { deliveredToLine, traceKey } from './trace.js';

/** `head`, then the chunks of `rest`; `rest` is destroyed when the reader stops early. */
async function* prepend(head: Buffer, rest: Readable): AsyncGenerator<Buffer> {
  try {
    yield head;
    for await (const chunk of rest) yield chunk as Buffer;
  } finally {
    rest.destroy();
  }
}

/** Forwards and replies through the node's one Outbound (the one remote recipients use). */
export function smarthostHandOff(config: Config, outbound: Outbound): HandOff | undefined {
  if (config.outbound.smarthosts.length === 0) return undefined;
  return {
    async forward({ sender, recipients, deliveredTo, incoming }) {
      const draft = incoming.draft;
      // qmail-local prepends its dtline to a forward as to a Maildir copy; the next hop's loop check reads it.
      const has = incoming.deliveredTo !== undefined && traceKey(incoming.deliveredTo) === traceKey(deliveredTo);
      const line = has ? Buffer.alloc(0) : deliveredToLine(deliveredTo);
      const eightBit = incoming.eightBit || !isAscii(line);
      const open = (): Readable => (line.length === 0 ? draft.openReader() : Readable.from(prepend(line, draft.openReader())));
      return handOffVerdict(await outbound.handOff({ sender, size: line.length + draft.size, eightBit, open }, recipients));
    },
    async send({ recipient, message }) {
      // RFC 3834 §4: the reply's envelope sender is null, so nothing answers it.
      const res = await outbound.handOff({ sender: '', size: message.length, eightBit: !isAscii(message), open: () => Readable.from([message]) }, [recipient]);
      if (res.status !== 'accepted') throw new RoostError('TEMP', `smarthost did not take the reply: ${res.recipients[0]?.reply ?? res.status}`);
    },
  };
}
