/**
 * LOGOUT (RFC 3501 §6.1.3): untagged BYE, tagged OK, then close. Nothing
 * else may come between them: Session.bye() lets go of the selected
 * mailbox first, so its queued changes are never sent.
 */
import type { CommandEnv, CommandResult } from '../command.js';

export async function logoutCommand(env: CommandEnv): Promise<CommandResult> {
  env.s.bye('Logging out', env.tag);
  return { status: 'OK', text: 'Logout completed', after: () => env.s.logout() };
}
