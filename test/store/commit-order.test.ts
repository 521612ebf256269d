/**
 * maildir(5) order in the group committer: a job's file data is synced
 * before its name is made visible (afterJournal renames tmp/ → new/), so a
 * crash cannot leave a visible name over data the disk did not keep; a failed
 * data sync fails the job and nothing is renamed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GroupCommitter } from '../../src/store/commit.js';
import { Journal, type RecordDraft } from '../../src/store/journal/log.js';
import { tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('group commit order', () => {
  fs.mkdirSync(path.join(root, 'data'), { recursive: true });
  const journal = new Journal(path.join(root, 'data'));
  const committer = new GroupCommitter(journal, () => 0, () => undefined);
  afterAll(() => journal.close());
  const draft = (): RecordDraft[] => [{ accountId: 'a', kind: 'mailbox-create', data: { maildir: root, mailbox: 'Order', uidvalidity: 1 } }];

  it('renames only after the data sync has finished', async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const done = committer.submit({
      build: draft,
      dataSync: async () => {
        await gate;
        order.push('synced');
      },
      afterJournal: () => {
        order.push('renamed');
        return [];
      },
      finish: () => order.push('finished'),
    });
    // The journal has committed and the batch is waiting on the sync: no rename yet.
    await new Promise((r) => setTimeout(r, 50));
    expect(order).toEqual([]);
    release();
    await done;
    expect(order).toEqual(['synced', 'renamed', 'finished']);
  });

  it('a failed data sync fails the job and renames nothing', async () => {
    let renamed = false;
    const job = committer.submit({
      build: draft,
      dataSync: () => Promise.reject(new Error('EIO on fdatasync')),
      afterJournal: () => {
        renamed = true;
        return [];
      },
      finish: () => 'finished',
    });
    await expect(job).rejects.toThrow(/EIO/);
    expect(renamed).toBe(false);
  });
});
