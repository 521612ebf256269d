/**
 * The APPEND size limit (RFC 7889): `imap.max_message_size`, never above the
 * hard ceiling LIMITS.imap.maxLiteralSize. One function, so CAPABILITY
 * APPENDLIMIT=N, STATUS APPENDLIMIT, the literal check in the session and
 * APPEND/CATENATE all say the same number.
 */
import type { NodeContext } from '../context.js';
import { LIMITS } from '../limits.js';

export function appendLimit(ctx: Pick<NodeContext, 'config'>): number {
  return Math.min(ctx.config.imap.max_message_size, LIMITS.imap.maxLiteralSize);
}
