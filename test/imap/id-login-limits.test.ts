/**
 * Limits from src/limits.ts at N and N+1 over a real IMAP socket: the ID
 * pairs recorded (RFC 2971 §3.3), and the login name and password lengths
 * refused before the directory is asked (auth.maxLoginLength,
 * auth.maxPasswordLength).
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { login, RawImap } from './helpers/client.js';

const logLines: Record<string, unknown>[] = [];
let t: TestNode;
let port: number;

/** An address of exactly `length` characters (64-character local part, 63-character labels; RFC 5321 §4.5.3.1). */
function addressOf(length: number): string {
  const local = 'a'.repeat(LIMITS.delivery.maxLocalPartLength);
  let domain = '';
  for (let left = length - local.length - 1; left > 0; ) {
    const label = Math.min(63, left - (domain === '' ? 0 : 1));
    domain += (domain === '' ? '' : '.') + 'd'.repeat(label);
    left = length - local.length - 1 - domain.length;
  }
  return `${local}@${domain}`;
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) logLines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  t = await startTestNode({ log: { level: 'info' } }, { logDestination: sink });
  port = t.ports.imap!;
});
afterAll(async () => {
  await t?.stop();
});

/** The `client` object of the last "client ID" log line, waited for. */
async function loggedId(): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const l = [...logLines].reverse().find((x) => x.msg === 'client ID');
    if (l) return l.client as Record<string, unknown>;
    if (Date.now() > deadline) throw new Error('no "client ID" log line');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('limits (IMAP ID and LOGIN)', () => {
  it(`ID with imap.maxIdPairs (${LIMITS.imap.maxIdPairs}) pairs is answered and each pair recorded; one more pair is BAD`, async () => {
    logLines.length = 0;
    const c = await RawImap.connect(port);
    await c.line();
    const list = (pairs: number): string => Array.from({ length: pairs }, (_, i) => `"f${i}" "v${i}"`).join(' ');
    const r = await c.cmd(`ID (${list(LIMITS.imap.maxIdPairs)})`);
    expect(r.tagged).toMatch(/^a\d+ OK/);
    expect(r.untagged).toContain('* ID ("name" "Roost" "vendor" "Roost")');
    const client = await loggedId();
    expect(Object.keys(client)).toHaveLength(LIMITS.imap.maxIdPairs);
    expect(client[`f${LIMITS.imap.maxIdPairs - 1}`]).toBe(`v${LIMITS.imap.maxIdPairs - 1}`);
    const over = await c.cmd(`ID (${list(LIMITS.imap.maxIdPairs + 1)})`);
    expect(over.tagged).toMatch(/^a\d+ BAD Too many ID parameters \(at most 30 pairs\)/);
    // The connection survives the BAD.
    expect((await c.cmd('NOOP')).tagged).toMatch(/^a\d+ OK/);
    await c.cmd('LOGOUT');
  });

  it(`a login name of auth.maxLoginLength (${LIMITS.auth.maxLoginLength}) characters logs in; one more is refused though the account exists`, async () => {
    const atLimit = addressOf(LIMITS.auth.maxLoginLength);
    const over = addressOf(LIMITS.auth.maxLoginLength + 1);
    expect([atLimit.length, over.length]).toEqual([LIMITS.auth.maxLoginLength, LIMITS.auth.maxLoginLength + 1]);
    await t.addUser(atLimit, 'long-name-pw');
    await t.addUser(over, 'long-name-pw');
    const ok = await login(port, atLimit, 'long-name-pw');
    await ok.cmd('LOGOUT');
    const c = await RawImap.connect(port);
    await c.line();
    expect((await c.cmd(`LOGIN "${over}" "long-name-pw"`, 30_000)).tagged).toMatch(/^a\d+ NO \[AUTHENTICATIONFAILED\]/);
    await c.cmd('LOGOUT');
  });

  it(`a password of auth.maxPasswordLength (${LIMITS.auth.maxPasswordLength}) characters logs in; one more is refused though it is the account's`, async () => {
    const pwN = 'p'.repeat(LIMITS.auth.maxPasswordLength);
    const pwOver = 'q'.repeat(LIMITS.auth.maxPasswordLength + 1);
    await t.addUser('pw-n@example.org', pwN);
    await t.addUser('pw-over@example.org', pwOver);
    const ok = await login(port, 'pw-n@example.org', pwN);
    await ok.cmd('LOGOUT');
    const c = await RawImap.connect(port);
    await c.line();
    expect((await c.cmd(`LOGIN "pw-over@example.org" "${pwOver}"`, 30_000)).tagged).toMatch(/^a\d+ NO \[AUTHENTICATIONFAILED\]/);
    await c.cmd('LOGOUT');
  });
});
