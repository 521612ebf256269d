/**
 * ENABLE (RFC 5161). CONDSTORE and QRESYNC can be enabled (RFC 7162 §3.1,
 * §3.2.3); QRESYNC implies CONDSTORE. RFC 5161 §3.1: names this server does
 * not know or cannot enable are ignored; the answer lists each requested
 * extension that is now enabled (also one a SELECT (CONDSTORE) had enabled
 * implicitly, so the client learns its state either way).
 */
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { ok } from '../command.js';

/** Extensions this server can enable (upper case). */
const ENABLEABLE: ReadonlySet<string> = new Set<string>(['CONDSTORE', 'QRESYNC']);

export async function enableCommand(env: CommandEnv, cmd: CommandOf<'ENABLE'>): Promise<CommandResult> {
  const s = env.s;
  const enabled: string[] = [];
  for (const c of cmd.args.capabilities) {
    if (!ENABLEABLE.has(c) || enabled.includes(c)) continue;
    enabled.push(c);
  }
  s.out.push(enabled.length > 0 ? `* ENABLED ${enabled.join(' ')}\r\n` : '* ENABLED\r\n');
  // Both imply CONDSTORE (RFC 7162 §3.2.3); ENABLE runs before any SELECT (RFC 5161 §3.1), so this reports nothing.
  if (enabled.length > 0) s.enableCondstore();
  for (const c of enabled) s.enabled.add(c);
  return ok('Enabled');
}
