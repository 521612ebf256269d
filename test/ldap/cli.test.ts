/**
 * The CLI with `directory.backend = "ldap"`: `roost user show` prints what
 * the directory resolves (exit 0 / 1 / 75), `roost user add` refuses.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roost } from '../helpers/cli.js';
import { READER_DN, READER_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';

let slapd: Slapd;
let dir: string;
let config: string;

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(
    userLdif('alice', { mail: 'alice@example.org', mailAlternateAddress: 'al@example.org', uid: 'alice', mailMessageStore: 'alice/Maildir/', mailQuotaSize: '5000', mailSizeMax: '700' }) +
      userLdif('dis', { mail: 'dis@example.org', uid: 'dis', mailMessageStore: 'dis/', accountStatus: 'disabled' }),
  );
  dir = mkdtempSync(path.join(os.tmpdir(), 'roost-ldap-cli-'));
  config = path.join(dir, 'roost.toml');
  writeFileSync(
    config,
    [
      `data_dir = "${dir}/data"`,
      '[directory]',
      'backend = "ldap"',
      '[directory.ldap]',
      `url = "${slapd.url}"`,
      `bind_dn = "${READER_DN}"`,
      `bind_password = "${READER_PW}"`,
      `base = "${SUFFIX}"`,
      `message_store_base = "${dir}/mail"`,
      'timeout_ms = 1000',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await slapd?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('roost user … with the LDAP backend', () => {
  it('user show prints the resolved account for an alternate address', async () => {
    const r = await roost(['user', 'show', 'al@example.org', '--config', config]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('account id:       alice@example.org');
    expect(r.stdout).toContain(`maildir:          ${dir}/mail/alice/Maildir`);
    expect(r.stdout).toContain('quota bytes:      5000');
    expect(r.stdout).toContain('quota messages:   unlimited');
    expect(r.stdout).toContain('max message size: 700');
    expect(r.stdout).toContain('login:            alice');
  });

  it('user show gives the QMQP answer for refused addresses (exit 1)', async () => {
    const r = await roost(['user', 'show', 'dis@example.org', '--config', config]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('refused (QMQP D): Mailaddress is administratively disabled. (#5.2.1)');
    const u = await roost(['user', 'show', 'nobody@example.org', '--config', config]);
    expect(u.code).toBe(1);
    expect(u.stdout).toContain('Sorry, no mailbox here by that name. (#5.1.1)');
  });

  it('user show exits 75 when the directory is down', async () => {
    await slapd.stop();
    try {
      const r = await roost(['user', 'show', 'alice@example.org', '--config', config]);
      expect(r.code).toBe(75);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/unavailable/);
    } finally {
      await slapd.start();
    }
  });

  it('user add refuses: accounts are managed in the directory', async () => {
    const r = await roost(['user', 'add', 'new@example.org', '--config', config]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/manage accounts in the directory/);
  });
});
