/** LOGOUT (RFC 3501 §6.1.3): untagged BYE, tagged OK, then close. */
import type { CommandEnv, CommandResult } from '../session.js';

export async function logoutCommand(env: CommandEnv): Promise<CommandResult> {
  env.s.out.push('* BYE Logging out\r\n');
  return { status: 'OK', text: 'Logout completed', after: () => env.s.logout() };
}
