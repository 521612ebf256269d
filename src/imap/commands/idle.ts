/**
 * IDLE (RFC 2177). The store emits change events the moment a write commits,
 * and the session pushes them to an idling client in the same turn of the
 * event loop (Session.beginIdle), so a delivery reaches the client within
 * milliseconds. The tagged OK comes when the client sends DONE.
 */
import type { CommandEnv, CommandResult } from '../command.js';
import { PENDING } from '../command.js';

export async function idleCommand(env: CommandEnv): Promise<CommandResult> {
  env.s.beginIdle(env.tag);
  return PENDING;
}
