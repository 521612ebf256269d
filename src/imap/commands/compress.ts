/**
 * COMPRESS (RFC 4978). Only DEFLATE exists; a second COMPRESS answers
 * NO [COMPRESSIONACTIVE] (RFC 4978 §3, code from RFC 5530 §3). The layer is
 * installed after the tagged OK went out uncompressed (session.ts).
 */
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, no } from '../command.js';

export async function compressCommand(env: CommandEnv, cmd: CommandOf<'COMPRESS'>): Promise<CommandResult> {
  const s = env.s;
  if (cmd.args.mechanism !== 'DEFLATE') return bad(`Unknown compression mechanism ${cmd.args.mechanism}`);
  if (s.compressed) return no('DEFLATE is already active', { name: 'COMPRESSIONACTIVE' });
  return {
    status: 'OK',
    text: 'DEFLATE active',
    after: async () => s.startCompression(),
  };
}
