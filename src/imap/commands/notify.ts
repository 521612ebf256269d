/**
 * NOTIFY (RFC 5465 §3.1): `NOTIFY NONE` stops notifications; `NOTIFY SET
 * [STATUS] (filter events) …` replaces the watch list (the per-session
 * state lives in ../notify.ts). Events Roost does not offer are refused
 * with NO [BADEVENT (supported events)] (§5.9) and leave the old setting.
 */
import { Notifier, SUPPORTED_EVENTS } from '../notify.js';
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { no, ok } from '../command.js';

export async function notifyCommand(env: CommandEnv, cmd: CommandOf<'NOTIFY'>): Promise<CommandResult> {
  const s = env.s;
  const args = cmd.args;
  if (args.kind === 'none') {
    s.notifier?.none();
    return ok('NOTIFY completed');
  }
  const unsupported = args.groups.flatMap((g) => g.unsupported);
  if (unsupported.length > 0) {
    return no(`Unsupported NOTIFY event ${unsupported[0]}`, { name: 'BADEVENT', args: [SUPPORTED_EVENTS.map((e) => ({ kind: 'atom' as const, value: e }))] });
  }
  const user = s.user;
  s.notifier ??= new Notifier(
    s.ctx.store,
    user,
    () => (s.state.kind === 'selected' ? s.state.view.handle.name : null),
    s.log,
    () => s.wakeNotify(),
  );
  await s.notifier.set(args.groups, args.status, s.out);
  return ok('NOTIFY completed');
}
