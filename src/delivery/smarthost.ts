/**
 * The HandOff final delivery uses (./forward.ts), built on src/outbound's
 * smarthost client from `[outbound] smarthosts`. Only smarthosts matter
 * here: forwards and vacation replies go out whatever the target's domain,
 * as qmail-local's forwards went to qmail-queue.
 *
 * Forwards stream the finished draft (Draft.openReader) like remote
 * recipients do (./remote.ts); vacation replies are a composed Buffer.
 */
import { Readable } from 'node:stream';
import type { Config } from '../config/schema.js';
import { RoostError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { Outbound } from '../outbound/handoff.js';
import type { HandOff } from './forward.js';
import { handOffVerdict } from './remote.js';

export function smarthostHandOff(config: Config, log: Logger): HandOff | undefined {
  if (config.outbound.smarthosts.length === 0) return undefined;
  const outbound = new Outbound(config.outbound, config.hostname, log.child({ component: 'outbound' }));
  return {
    async forward({ sender, recipients, incoming }) {
      const draft = incoming.draft;
      return handOffVerdict(await outbound.handOff({ sender, size: draft.size, open: () => draft.openReader() }, recipients));
    },
    async send({ recipient, message }) {
      // RFC 3834 §4: the reply's envelope sender is null, so nothing answers it.
      const res = await outbound.handOff({ sender: '', size: message.length, open: () => Readable.from([message]) }, [recipient]);
      if (res.status !== 'accepted') throw new RoostError('TEMP', `smarthost did not take the reply: ${res.recipients[0]?.reply ?? res.status}`);
    },
  };
}
