/**
 * Subscriptions and LIST-EXTENDED over a socket: CREATE does not subscribe
 * (RFC 3501 §6.3.3), DELETE keeps a subscription (§6.3.6), LSUB's "%" shows
 * an unsubscribed parent as \Noselect (§6.3.9), RFC 5258 SUBSCRIBED,
 * RECURSIVEMATCH with CHILDINFO, \NonExistent, RETURN (CHILDREN SUBSCRIBED),
 * and the option combinations that are BAD (§3). Mirrors imaptest's list,
 * listext and subscribe groups.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;

async function ok(cmd: string): Promise<string[]> {
  const r = await c.cmd(cmd);
  expect(r.tagged, cmd).toMatch(/^a\d+ OK/);
  return r.untagged;
}

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  for (const m of ['X.t1', 'X.t2.', 'X.t2.t1', 'X.t3', 'X.t4.t5', 'X.t4.t52', 'X.t6', 'X.t7.t7', 'X.t8.t8', 'X.t8.t9']) await ok(`CREATE ${m}`);
  for (const m of ['X.t1', 'X.t2.t1', 'X.t6', 'X.t7.t7', 'X.t8.t8', 'X.t8.t9']) await ok(`SUBSCRIBE ${m}`);
  await ok('DELETE X.t6');
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('subscriptions', () => {
  it('CREATE does not subscribe; SUBSCRIBE does', async () => {
    await ok('CREATE Fresh');
    expect(await ok('LSUB "" Fresh')).toEqual([]);
    await ok('SUBSCRIBE Fresh');
    expect(await ok('LSUB "" Fresh')).toEqual(['* LSUB (\\HasNoChildren) "." Fresh']);
    expect((await c.cmd('SUBSCRIBE NoSuchBox')).tagged).toMatch(/^a\d+ NO/);
  });

  it('a deleted mailbox stays subscribed: LSUB lists it, LIST does not, UNSUBSCRIBE ends it, CREATE takes it up', async () => {
    await ok('CREATE Gone');
    await ok('SUBSCRIBE Gone');
    await ok('DELETE Gone');
    expect(await ok('LIST "" Gone')).toEqual([]);
    expect(await ok('LSUB "" Gone')).toEqual(['* LSUB (\\Noselect) "." Gone']);
    expect(await ok('LIST (SUBSCRIBED) "" Gone')).toEqual(['* LIST (\\NonExistent \\Subscribed) "." Gone']);
    await ok('CREATE Gone');
    expect(await ok('LIST "" Gone RETURN (SUBSCRIBED)')).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "." Gone']);
    await ok('DELETE Gone');
    await ok('UNSUBSCRIBE Gone');
    expect(await ok('LSUB "" Gone')).toEqual([]);
    expect((await c.cmd('UNSUBSCRIBE Gone')).tagged).toMatch(/^a\d+ NO/);
  });

  it('LSUB with "%" shows unsubscribed parents of subscribed names as \\Noselect; "*" does not', async () => {
    expect(await ok('LSUB "" X.%')).toEqual([
      '* LSUB (\\HasNoChildren) "." X.t1',
      '* LSUB (\\Noselect) "." X.t2',
      '* LSUB (\\Noselect) "." X.t6',
      '* LSUB (\\Noselect) "." X.t7',
      '* LSUB (\\Noselect) "." X.t8',
    ]);
    expect(await ok('LSUB "" X*t1')).toEqual(['* LSUB (\\HasNoChildren) "." X.t1', '* LSUB (\\HasNoChildren) "." X.t2.t1']);
  });
});

describe('LIST-EXTENDED (RFC 5258)', () => {
  it('refuses RECURSIVEMATCH alone or with REMOTE only, and unknown options (§3)', async () => {
    for (const bad of ['LIST (imaptest) "" ""', 'LIST (RECURSIVEMATCH) "" ""', 'LIST (RECURSIVEMATCH REMOTE) "" ""', 'LIST "" "" RETURN (imaptest)']) {
      expect((await c.cmd(bad)).tagged, bad).toMatch(/^a\d+ BAD/);
    }
    expect((await c.cmd('LIST (REMOTE) "" %')).tagged).toMatch(/^a\d+ OK/);
  });

  it('(SUBSCRIBED) lists subscribed names, a deleted one as \\NonExistent', async () => {
    expect(await ok('LIST (SUBSCRIBED) "" X.*')).toEqual([
      '* LIST (\\HasNoChildren \\Subscribed) "." X.t1',
      '* LIST (\\HasNoChildren \\Subscribed) "." X.t2.t1',
      '* LIST (\\NonExistent \\Subscribed) "." X.t6',
      '* LIST (\\HasNoChildren \\Subscribed) "." X.t7.t7',
      '* LIST (\\HasNoChildren \\Subscribed) "." X.t8.t8',
      '* LIST (\\HasNoChildren \\Subscribed) "." X.t8.t9',
    ]);
  });

  it('RECURSIVEMATCH: CHILDINFO for unsubscribed parents whose subscribed descendant the patterns miss', async () => {
    expect(await ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" X.t2% RETURN (CHILDREN)')).toEqual([
      '* LIST (\\HasChildren) "." X.t2 ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
    // The descendant is matched itself: its parent is not listed.
    expect(await ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" X*t7')).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "." X.t7.t7']);
    expect(await ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" X*t8')).toEqual([
      '* LIST (\\NonExistent \\HasChildren) "." X.t8 ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\HasNoChildren \\Subscribed) "." X.t8.t8',
    ]);
    expect(await ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" (X.t2 X.t2.t1)')).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "." X.t2.t1']);
  });

  it('RETURN (CHILDREN SUBSCRIBED) over "%": only subscribed mailboxes say \\Subscribed', async () => {
    expect(await ok('LIST "" X.% RETURN (CHILDREN SUBSCRIBED)')).toEqual([
      '* LIST (\\HasNoChildren \\Subscribed) "." X.t1',
      '* LIST (\\HasChildren) "." X.t2',
      '* LIST (\\HasNoChildren) "." X.t3',
      '* LIST (\\NonExistent \\HasChildren) "." X.t4',
      '* LIST (\\NonExistent \\HasChildren) "." X.t7',
      '* LIST (\\NonExistent \\HasChildren) "." X.t8',
    ]);
  });

  it('multiple patterns are one union, each mailbox once', async () => {
    expect(await ok('LIST "" (X.*2 X.t3 X.t*)')).toHaveLength(12);
    expect(await ok('LIST "" (X.*2 X.t3)')).toEqual(['* LIST (\\HasChildren) "." X.t2', '* LIST (\\HasNoChildren) "." X.t3', '* LIST (\\HasNoChildren) "." X.t4.t52']);
  });

  it('SPECIAL-USE selection keeps only special-use mailboxes', async () => {
    await ok('CREATE Bin (USE (\\Trash))');
    await ok('SUBSCRIBE Bin');
    expect(await ok('LIST (SPECIAL-USE) "" B*')).toEqual(['* LIST (\\HasNoChildren \\Trash) "." Bin']);
    expect(await ok('LIST (SPECIAL-USE SUBSCRIBED) "" B*')).toEqual(['* LIST (\\HasNoChildren \\Trash \\Subscribed) "." Bin']);
  });
});
