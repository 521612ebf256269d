/**
 * A TCP proxy the link-fault tests put between the nodes: it forwards, and on
 * demand stalls (stops reading both ways), resumes, drops every connection
 * and refuses new ones until restored, or reorders the byte stream from the
 * primary (two chunks swapped, as a broken middlebox would) — which TLS on
 * the link must detect, so the nodes reconnect instead of applying garbage.
 */
import net from 'node:net';
import tls from 'node:tls';
import { generate } from 'selfsigned';

interface Conn {
  client: net.Socket;
  upstream: net.Socket;
  /** A primary → replica chunk held back to be sent after the next one. */
  held: Buffer | null;
}

export class FaultProxy {
  private readonly server: net.Server;
  private readonly conns = new Set<Conn>();
  private mode: 'pass' | 'stall' | 'drop' = 'pass';
  private reorders = 0;
  /** Chunk pairs swapped so far. */
  swapped = 0;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => {
      if (this.mode === 'drop') {
        client.destroy();
        return;
      }
      const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort });
      const conn: Conn = { client, upstream, held: null };
      this.conns.add(conn);
      this.forward(client, upstream, null);
      this.forward(upstream, client, conn);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.conns.delete(conn);
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      if (this.mode === 'stall') this.pause(conn);
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
    for (const c of this.conns) this.pause(c);
  }

  /** Move bytes again. */
  resume(): void {
    this.mode = 'pass';
    for (const c of this.conns) {
      c.client.resume();
      c.upstream.resume();
    }
  }

  /** Cut every connection and refuse new ones until resume(). */
  drop(): void {
    this.mode = 'drop';
    for (const c of this.conns) {
      c.client.destroy();
      c.upstream.destroy();
    }
    this.conns.clear();
  }

  /** Swap the order of the next `pairs` pairs of chunks flowing from the primary to the replica. */
  reorder(pairs = 1): void {
    this.reorders += pairs;
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Copy `from` → `to` with back-pressure; `conn` set for the primary → replica direction (reordering). */
  private forward(from: net.Socket, to: net.Socket, conn: Conn | null): void {
    from.on('data', (chunk: Buffer) => {
      let out: Buffer[] = [chunk];
      if (conn && conn.held) {
        out = [chunk, conn.held];
        conn.held = null;
        this.swapped++;
      } else if (conn && this.reorders > 0) {
        this.reorders--;
        conn.held = chunk;
        // No second chunk soon (e.g. a handshake waiting for this one): let it go unswapped.
        setTimeout(() => {
          if (conn.held !== chunk) return;
          conn.held = null;
          this.reorders++;
          to.write(chunk);
        }, 50);
        return;
      }
      let ok = true;
      for (const b of out) ok = to.write(b) && ok;
      if (!ok) {
        from.pause();
        to.once('drain', () => {
          if (this.mode !== 'stall') from.resume();
        });
      }
    });
  }

  private pause(c: Conn): void {
    c.client.pause();
    c.upstream.pause();
  }
}

/**
 * A man in the middle that terminates TLS: it presents its own self-signed
 * certificate to the connecting node, opens its own TLS session to the
 * target, and forwards the plaintext between the two sessions — recording
 * it, and replacing `rewrite.from` with `rewrite.to` in what the target
 * sends (an attacker altering records). Each node sees a working TLS link;
 * only the replication handshake's channel binding can tell.
 */
export class TlsRelay {
  private server: tls.Server | null = null;
  private readonly sockets = new Set<tls.TLSSocket>();
  /** Plaintext seen in either direction. */
  readonly seen: Buffer[] = [];
  /** Connections relayed (both TLS sessions up). */
  relayed = 0;
  rewrite: { from: string; to: string } | null = null;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async listen(): Promise<number> {
    const pems = await generate([{ name: 'commonName', value: 'relay.invalid' }], { keyType: 'ec', curve: 'P-256' });
    this.server = tls.createServer({ cert: pems.cert, key: pems.private }, (client) => {
      const upstream = tls.connect({ host: '127.0.0.1', port: this.targetPort, rejectUnauthorized: false });
      this.sockets.add(client);
      this.sockets.add(upstream);
      upstream.once('secureConnect', () => this.relayed++);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('data', (c: Buffer) => {
        this.seen.push(c);
        upstream.write(c);
      });
      upstream.on('data', (c: Buffer) => {
        this.seen.push(c);
        const r = this.rewrite;
        client.write(r ? Buffer.from(c.toString('latin1').split(r.from).join(r.to), 'latin1') : c);
      });
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Everything relayed so far, as text. */
  text(): string {
    return Buffer.concat(this.seen).toString('latin1');
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
  }
}
