/**
 * MailboxHandle.openMessageFile: one descriptor for every section of a
 * FETCH response. Opened while the message exists, it reads the same bytes
 * after the message is expunged and its file unlinked (POSIX keeps an open
 * file); opened after the expunge, it fails NOTFOUND; a range past the end
 * of a file that shrank comes back short, never padded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRoostError } from '../../src/errors.js';
import { account, deliver, files, message, open, tempDir, waitFor } from './helpers.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function collect(src: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of src) parts.push(b);
  return Buffer.concat(parts);
}

describe('openMessageFile', () => {
  it('reads and streams the same bytes after expunge and unlink; opening afterwards is NOTFOUND', async () => {
    const root = tempDir();
    const store = await open(root);
    cleanup.push(async () => {
      await store.close();
      fs.rmSync(root, { recursive: true, force: true });
    });
    const alice = account(root, 'alice');
    // Big enough to take several chunks.
    const msg = message('big', `${'z'.repeat(70)}\n`.repeat(4000));
    await deliver(store, [alice], msg);
    const box = await store.user(alice).openMailbox('INBOX');
    const uid = box.snapshot().messages[0]!.uid;
    const file = await box.openMessageFile(uid);
    await box.expunge({ uids: [uid], force: true });
    await waitFor(() => files(alice.maildir, 'new').length + files(alice.maildir, 'cur').length === 0);
    expect(await file.read(0, 20)).toEqual(msg.subarray(0, 20));
    expect(await collect(file.chunks(0, msg.length))).toEqual(msg);
    expect(await collect(file.chunks(100, msg.length + 1000))).toEqual(msg.subarray(100));
    await file.close();
    await expect(file.read(0, 1)).rejects.toThrow(/closed/);
    const err = await box.openMessageFile(uid).catch((e: unknown) => e);
    expect(isRoostError(err, 'NOTFOUND')).toBe(true);
    box.close();
  });

  it('a file truncated under it: reads come back short, chunks end early', async () => {
    const root = tempDir();
    const store = await open(root);
    cleanup.push(async () => {
      await store.close();
      fs.rmSync(root, { recursive: true, force: true });
    });
    const alice = account(root, 'alice');
    const msg = message('short', 'x'.repeat(300_000));
    await deliver(store, [alice], msg);
    const box = await store.user(alice).openMailbox('INBOX');
    const uid = box.snapshot().messages[0]!.uid;
    const file = await box.openMessageFile(uid);
    const [name] = [...files(alice.maildir, 'new').map((f) => path.join(alice.maildir, 'new', f)), ...files(alice.maildir, 'cur').map((f) => path.join(alice.maildir, 'cur', f))];
    fs.truncateSync(name!, 1000);
    expect((await file.read(0, msg.length)).length).toBe(1000);
    expect(await collect(file.chunks(0, msg.length))).toEqual(msg.subarray(0, 1000));
    expect((await file.read(2000, 3000)).length).toBe(0);
    await file.close();
    box.close();
  });
});
