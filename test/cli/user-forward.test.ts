/**
 * `roost user forward add|del|list` and `roost user vacation set|off` as
 * real processes on an embedded directory with no node running (the CLI
 * journals the change itself; with a node it goes over the control socket,
 * test/replication/accounts.test.ts), and `roost user show` reporting them.
 */
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { roost } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/node.js';

let dir: string;
let cfg: string;
beforeAll(async () => {
  dir = await makeTempDir();
  cfg = path.join(dir, 'roost.toml');
  await writeFile(cfg, 'data_dir = "./data"\nhostname = "cli.test"\n');
  expect((await roost(['user', 'add', 'alice@example.org', '--config', cfg])).code).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('roost user forward / vacation', () => {
  it('adds, lists and removes forwards; user show reports them', async () => {
    const add = await roost(['user', 'forward', 'add', 'alice@example.org', 'alice@home.example', '--config', cfg]);
    expect(add).toMatchObject({ code: 0, stdout: 'alice@example.org forwards to alice@home.example\n' });
    expect((await roost(['user', 'forward', 'add', 'alice@example.org', 'a2@home.example', '--config', cfg])).code).toBe(0);
    expect((await roost(['user', 'forward', 'list', 'alice@example.org', '--config', cfg])).stdout).toBe('alice@home.example\na2@home.example\n');
    const dup = await roost(['user', 'forward', 'add', 'alice@example.org', 'ALICE@home.example', '--config', cfg]);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain('already forwards');
    const bad = await roost(['user', 'forward', 'add', 'alice@example.org', 'nodomain', '--config', cfg]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('no domain');
    expect((await roost(['user', 'forward', 'del', 'alice@example.org', 'a2@home.example', '--config', cfg])).code).toBe(0);
    const show = await roost(['user', 'show', 'alice@example.org', '--config', cfg]);
    expect(show.stdout).toContain('local copy:       yes');
    expect(show.stdout).toContain('forwards:         alice@home.example');
    expect(show.stdout).toContain('vacation reply:   off');
  });

  it('sets the vacation text from stdin and turns it off', async () => {
    const set = await roost(['user', 'vacation', 'set', 'alice@example.org', '--config', cfg], 'Away.\r\nBack on Monday.\r\n');
    expect(set).toMatchObject({ code: 0, stdout: 'vacation replies on for alice@example.org\n' });
    expect((await roost(['user', 'show', 'alice@example.org', '--config', cfg])).stdout).toContain('vacation reply:   on');
    const empty = await roost(['user', 'vacation', 'set', 'alice@example.org', '--config', cfg], '\n');
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain('vacation off');
    const over = await roost(['user', 'vacation', 'set', 'alice@example.org', '--config', cfg], 'x'.repeat(LIMITS.delivery.maxReplyTextBytes + 1));
    expect(over.code).not.toBe(0);
    expect(over.stderr).toContain('longer than');
    const atLimit = await roost(['user', 'vacation', 'set', 'alice@example.org', '--config', cfg], 'x'.repeat(LIMITS.delivery.maxReplyTextBytes));
    expect(atLimit.code).toBe(0);
    expect((await roost(['user', 'vacation', 'off', 'alice@example.org', '--config', cfg])).stdout).toBe('vacation replies off for alice@example.org\n');
    expect((await roost(['user', 'show', 'alice@example.org', '--config', cfg])).stdout).toContain('vacation reply:   off');
  });
});
