/**
 * A TCP proxy the link-fault tests put between the nodes: it forwards, and on
 * demand stalls (stops reading both ways), resumes, or drops every
 * connection and refuses new ones until restored.
 */
import net from 'node:net';

export class FaultProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private mode: 'pass' | 'stall' | 'drop' = 'pass';
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => {
      if (this.mode === 'drop') {
        client.destroy();
        return;
      }
      const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      if (this.mode === 'stall') this.pause(pair);
    });
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Stop moving bytes in both directions; connections stay open. */
  stall(): void {
    this.mode = 'stall';
    for (const p of this.pairs) this.pause(p);
  }

  /** Move bytes again. */
  resume(): void {
    this.mode = 'pass';
    for (const [a, b] of this.pairs) {
      a.pipe(b);
      b.pipe(a);
    }
  }

  /** Cut every connection and refuse new ones until resume(). */
  drop(): void {
    this.mode = 'drop';
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private pause([a, b]: [net.Socket, net.Socket]): void {
    a.unpipe(b);
    b.unpipe(a);
    a.pause();
    b.pause();
  }
}
