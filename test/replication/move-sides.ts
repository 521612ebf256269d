/**
 * Both ends of an in-process `roost account move` (move-rounds.test.ts,
 * move-receiver.test.ts): a store and an embedded directory holding
 * alice@example.org, and two Links over a loopback socket, optionally
 * through a relay that rewrites the bytes going from the first to the second.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import { Link } from '../../src/replication/protocol.js';
import { openStore } from '../../src/store/open.js';
import type { StoreImpl } from '../../src/store/store-impl.js';

export async function moveSide(root: string, name: string) {
  const base = path.join(root, name);
  const mailDir = path.join(base, 'mail');
  fs.mkdirSync(path.join(base, 'data'), { recursive: true });
  const directory = openSqliteDirectory(path.join(base, 'data'), mailDir);
  const account = await directory.addUser({ address: 'alice@example.org', password: 'pw' });
  const store = (await openStore({ dataDir: path.join(base, 'data'), mailDir, hostname: 'test.host', log: () => undefined })) as StoreImpl;
  const close = async (): Promise<void> => {
    await store.close();
    await directory.close();
  };
  return { directory, account, store, close };
}

/** Two Links over loopback; `relay` (optional) rewrites the bytes going from the first to the second. */
export async function linked(relay?: (b: Buffer) => Buffer): Promise<[Link, Link]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const port = (server.address() as net.AddressInfo).port;
  let client: net.Socket;
  if (relay) {
    // A relay in between: source → relay (rewrites) → destination.
    const front = net.createServer();
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    const inner = new Promise<net.Socket>((r) => front.once('connection', r));
    client = net.connect((front.address() as net.AddressInfo).port, '127.0.0.1');
    const src = await inner;
    const up = net.connect(port, '127.0.0.1');
    src.on('data', (d: Buffer) => up.write(relay(d)));
    up.on('data', (d: Buffer) => src.write(d));
    const end = (): void => {
      src.destroy();
      up.destroy();
    };
    src.on('close', end);
    up.on('close', end);
    src.on('error', end);
    up.on('error', end);
    front.close();
  } else {
    client = net.connect(port, '127.0.0.1');
  }
  const [a, b] = [new Link(client), new Link(await accepted)];
  server.close();
  a.authenticated();
  b.authenticated();
  return [a, b];
}
