/**
 * A raw TCP connection that collects what the server says: for tests that
 * must write bytes before any greeting (PROXY headers) or connect from a
 * chosen loopback address (127.0.0.2 …) to look like another client.
 */
import net from 'node:net';

export interface RawConn {
  s: net.Socket;
  text(): string;
  /** Resolves with everything received once `pattern` matches it, or the server closes, or 30 s pass. */
  until(pattern: RegExp): Promise<string>;
  closed: Promise<void>;
}

export async function rawConnect(port: number, localAddress = '127.0.0.1', open?: net.Socket[]): Promise<RawConn> {
  const s = await new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(c));
    c.once('error', reject);
  });
  open?.push(s);
  let got = '';
  const wake = new Set<() => void>();
  const wakeAll = (): void => {
    for (const w of [...wake]) w();
    wake.clear();
  };
  s.on('data', (b: Buffer) => {
    got += b.toString('latin1');
    wakeAll();
  });
  s.on('error', () => undefined);
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  void closed.then(wakeAll);
  const until = async (pattern: RegExp): Promise<string> => {
    const deadline = Date.now() + 30_000;
    while (!pattern.test(got) && !s.destroyed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        wake.add(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return got;
  };
  return { s, text: () => got, until, closed };
}
