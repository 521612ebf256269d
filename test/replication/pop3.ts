/** A minimal POP3 client for the replication tests (deletions are store changes replicated like any other). */
import net from 'node:net';

/** A minimal POP3 exchange: log in, DELE the given message numbers, QUIT; returns the QUIT reply. */
export async function pop3Dele(port: number, user: string, pass: string, numbers: number[]): Promise<string> {
  const s = net.connect({ host: '127.0.0.1', port });
  let buf = '';
  const waiters: ((line: string) => void)[] = [];
  s.on('data', (c: Buffer) => {
    buf += c.toString('latin1');
    let i: number;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      waiters.shift()?.(line);
    }
  });
  const reply = (): Promise<string> => new Promise((r) => waiters.push(r));
  const cmd = async (c: string): Promise<string> => {
    const p = reply();
    s.write(`${c}\r\n`);
    const line = await p;
    if (!line.startsWith('+OK')) throw new Error(`POP3 ${c.split(' ')[0]}: ${line}`);
    return line;
  };
  await reply();
  await cmd(`USER ${user}`);
  await cmd(`PASS ${pass}`);
  for (const n of numbers) await cmd(`DELE ${n}`);
  const quit = await cmd('QUIT');
  s.destroy();
  return quit;
}

