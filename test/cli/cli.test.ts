import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roost, roostProcess } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/node.js';

let dir: string;
let cfg: string;
beforeAll(async () => {
  dir = await makeTempDir();
  cfg = path.join(dir, 'roost.toml');
  await writeFile(cfg, 'data_dir = "./data"\nhostname = "cli.test"\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('roost user …', () => {
  it('adds, lists, aliases, changes passwords and deletes accounts', async () => {
    const add = await roost(['user', 'add', 'alice@example.org', '--password-stdin', '--quota', '10M', '--config', cfg], 'pw1\n');
    expect(add.code).toBe(0);
    expect(add.stdout).toContain(path.join(dir, 'data', 'mail', 'example.org', 'alice', 'Maildir'));
    expect((await roost(['--config', cfg, 'user', 'add', 'bob@example.org'])).code).toBe(0);
    expect((await roost(['user', 'alias', 'add', 'info@example.org', 'alice@example.org', '--config', cfg])).code).toBe(0);

    const list = await roost(['user', 'list', '--json', '--config', cfg]);
    expect(list.code).toBe(0);
    const users = JSON.parse(list.stdout) as { address: string; quotaBytes: number; aliases: string[]; hasPassword: boolean }[];
    expect(users).toMatchObject([
      { address: 'alice@example.org', quotaBytes: 10 * 1024 * 1024, aliases: ['info@example.org'], hasPassword: true },
      { address: 'bob@example.org', aliases: [], hasPassword: false },
    ]);
    expect((await roost(['user', 'passwd', 'bob@example.org', '--config', cfg], 'pw2\n')).code).toBe(0);
    expect((await roost(['user', 'del', 'bob@example.org', '--config', cfg])).code).toBe(0);
    const after = await roost(['user', 'list', '--config', cfg]);
    expect(after.stdout).toBe('alice@example.org active quota=10485760 aliases=info@example.org\n');
  });

  it('exit 1 with a message for failures', async () => {
    const dup = await roost(['user', 'add', 'alice@example.org', '--config', cfg]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/exists/);
    const ghost = await roost(['user', 'del', 'ghost@example.org', '--config', cfg]);
    expect(ghost.code).toBe(1);
    expect(ghost.stderr).toMatch(/no user ghost@example.org/);
    expect((await roost(['user', 'add', '../x@example.org', '--config', cfg])).code).toBe(1);
    expect((await roost(['user', 'passwd', 'alice@example.org', '--config', cfg], '')).code).toBe(2);
  });

  it('exit 2 for usage errors', async () => {
    expect((await roost(['frobnicate'])).code).toBe(2);
    expect((await roost(['user', 'add'])).code).toBe(2);
    expect((await roost(['user', 'add', 'a@b.c', '--quota', 'lots', '--config', cfg])).code).toBe(2);
    expect((await roost(['deliver', '--config', cfg])).code).toBe(2);
    expect((await roost([])).code).toBe(2);
    expect((await roost(['--help'])).code).toBe(0);
  });

  it('deliver without a running node opens the store itself: 0 delivered, 1 refused, 75 over quota', async () => {
    expect((await roost(['user', 'add', 'dee@example.org', '--quota', '1K', '--config', cfg])).code).toBe(0);
    const ok = await roost(['deliver', 'dee@example.org', '--config', cfg], 'Subject: local\n\nhi\n');
    expect(ok.code, ok.stderr).toBe(0);
    const unknown = await roost(['deliver', 'nobody@example.org', '--config', cfg], 'x\n');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/#5\.1\.1/);
    const big = await roost(['deliver', 'dee@example.org', '--config', cfg], 'y'.repeat(4000));
    expect(big.code).toBe(75);
  });

  it('status without a running node exits 1 and says so', async () => {
    const r = await roost(['status', '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no roost node is running/);
  });

  it('bin/roost from the checkout: same exit codes as a real process', async () => {
    const ok = await roostProcess(['user', 'add', 'carol@example.org', '--password-stdin', '--config', cfg], { stdin: 'pw\n' });
    expect(ok.code).toBe(0);
    const env = await roostProcess(['user', 'list'], { env: { ROOST_CONFIG: cfg } });
    expect(env.code).toBe(0);
    expect(env.stdout).toContain('carol@example.org');
    expect((await roostProcess(['user', 'add', 'carol@example.org', '--config', cfg])).code).toBe(1);
    expect((await roostProcess(['nonsense'])).code).toBe(2);
  });
});
