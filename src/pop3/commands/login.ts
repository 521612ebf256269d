/**
 * USER / PASS (RFC 1939 §7) and AUTH (RFC 5034) with SASL PLAIN and LOGIN.
 * Credentials are refused before TLS unless `auth.allow_plaintext` allows
 * them (RFC 2595 §2.2); the check is the shared AuthGuard's.
 */
import { createSaslExchange, SASL_MECHANISMS, type SaslStep } from '../../net/auth-guard.js';
import type { CommandSession } from '../session-api.js';
import { ArgError, splitArgs, type Command } from './args.js';

/** Dovecot's wording, which clients have seen for years. */
const PLAINTEXT_REFUSED = '-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.';

function plaintextAllowed(s: CommandSession): boolean {
  return s.env.guard.allowPlaintext(s.secure, s.remoteAddress, s.peer.via !== null);
}

export const user: Command<{ name: string }> = {
  states: ['authorization'],
  parse(args) {
    const parts = splitArgs(args);
    return parts.length === 1 ? { name: parts[0]! } : new ArgError('USER takes one argument: the login name.');
  },
  async run(s, { name }) {
    if (s.state.kind !== 'authorization') return;
    if (!plaintextAllowed(s)) {
      await s.reply(PLAINTEXT_REFUSED);
      return;
    }
    s.state.user = name;
    // The same answer for every name: nothing is revealed before PASS.
    await s.reply('+OK');
  },
};

export const pass: Command<{ password: string }> = {
  states: ['authorization'],
  // RFC 1939 §7: the server may treat spaces in the argument as part of the password.
  parse(args) {
    return args === '' ? new ArgError('PASS requires a password.') : { password: args };
  },
  async run(s, { password }) {
    if (s.state.kind !== 'authorization') return;
    if (!plaintextAllowed(s)) {
      await s.reply(PLAINTEXT_REFUSED);
      return;
    }
    const login = s.state.user;
    if (login === null) {
      await s.bad('-ERR No username given; send USER first.');
      return;
    }
    await s.loginWith(await s.env.guard.login(login, password, s.remoteAddress));
  },
};

/** RFC 5034 §4: AUTH mechanism [initial-response]; bare AUTH lists mechanisms (as many clients expect). */
export const auth: Command<{ mechanism: string | null; initial: string | null }> = {
  states: ['authorization'],
  parse(args) {
    const parts = splitArgs(args);
    if (parts.length > 2) return new ArgError('AUTH takes a mechanism and an optional initial response.');
    return { mechanism: parts[0] ?? null, initial: parts[1] ?? null };
  },
  async run(s, { mechanism, initial }) {
    if (s.state.kind !== 'authorization') return;
    if (mechanism === null) {
      const out = s.listing();
      await s.reply('+OK Supported SASL mechanisms follow.');
      if (plaintextAllowed(s)) for (const m of SASL_MECHANISMS) await out.line(m);
      await out.end();
      return;
    }
    if (!plaintextAllowed(s)) {
      await s.reply(PLAINTEXT_REFUSED);
      return;
    }
    const exchange = createSaslExchange(mechanism);
    if (!exchange) {
      await s.bad('-ERR Unsupported authentication mechanism.');
      return;
    }
    let step: SaslStep = exchange.start(initial);
    // PLAIN needs at most one round trip, LOGIN two.
    for (let round = 0; step.kind === 'challenge' && round < 3; round++) {
      await s.reply(`+ ${step.challenge}`);
      const input = await s.readLine();
      if (input.kind === 'eof') {
        s.close();
        return;
      }
      step = input.kind === 'tooLong' ? { kind: 'error', reason: 'response too long' } : exchange.next(input.text);
    }
    switch (step.kind) {
      case 'done':
        await s.loginWith(await s.env.guard.login(step.credentials.authcid, step.credentials.password, s.remoteAddress));
        return;
      case 'cancelled':
        await s.reply('-ERR Authentication cancelled.');
        return;
      case 'error':
        await s.bad(`-ERR Invalid SASL response: ${step.reason}.`);
        return;
      case 'challenge':
        await s.bad('-ERR Too many SASL rounds.');
        return;
    }
  },
};
