/**
 * CLOSE (RFC 3501 §6.4.2): expunge \Deleted silently (no EXPUNGE responses)
 * unless read-only, then deselect. UNSELECT (RFC 3691): deselect only.
 */
import type { CommandEnv, CommandResult } from '../command.js';
import { ok } from '../command.js';

export async function closeCommand(env: CommandEnv): Promise<CommandResult> {
  const s = env.s;
  const view = s.view;
  if (!view.readOnly) await view.handle.expunge();
  s.deselect();
  return ok('Close completed');
}

export async function unselectCommand(env: CommandEnv): Promise<CommandResult> {
  env.s.deselect();
  return ok('Unselect completed');
}
