/**
 * A QMQP client written for the tests (cr.yp.to/proto/qmqp.html), plus a raw
 * variant that sends arbitrary bytes and reports what the server did.
 */
import net from 'node:net';

export interface QmqpReply {
  code: 'K' | 'Z' | 'D';
  text: string;
}

export function netstring(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
  return Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]);
}

export function qmqpPacket(message: Buffer | string, sender: string, recipients: string[]): Buffer {
  return netstring(Buffer.concat([netstring(message), netstring(sender), ...recipients.map((r) => netstring(r))]));
}

export interface RawResult {
  /** The whole reply netstring as text, or null when the server closed without one. */
  reply: string | null;
  /** The server reset or closed before/while we wrote. */
  closedEarly: boolean;
}

/**
 * Send `pieces` (with an optional pause between them), then half-close when
 * `end` is set, and collect whatever the server answers before closing.
 */
export function qmqpRaw(
  port: number,
  pieces: Buffer[],
  opts: { pauseMs?: number; end?: boolean; timeoutMs?: number } = {},
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const got: Buffer[] = [];
    let closedEarly = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('qmqp test client: no close within the time limit'));
    }, opts.timeoutMs ?? 15_000);
    s.on('data', (c: Buffer) => got.push(c));
    s.on('error', () => {
      closedEarly = true;
    });
    s.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(got).toString('utf8');
      resolve({ reply: text === '' ? null : text, closedEarly });
    });
    s.on('connect', async () => {
      for (const p of pieces) {
        if (s.destroyed) return;
        s.write(p);
        if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
      }
      if (opts.end) s.end();
    });
  });
}

/** Parse "<len>:<code><text>," into a reply. */
export function parseReply(raw: string | null): QmqpReply | null {
  if (raw === null) return null;
  const m = /^(\d+):([KZD])([\s\S]*),$/.exec(raw);
  if (!m || Number(m[1]) !== Buffer.byteLength(m[2]! + m[3]!)) throw new Error(`not a QMQP reply: ${JSON.stringify(raw)}`);
  return { code: m[2] as QmqpReply['code'], text: m[3]! };
}

/** Deliver one message; resolves with the server's verdict (throws when it closed without one). */
export async function qmqpSend(port: number, message: Buffer | string, sender: string, recipients: string[]): Promise<QmqpReply> {
  const r = await qmqpRaw(port, [qmqpPacket(message, sender, recipients)]);
  const reply = parseReply(r.reply);
  if (!reply) throw new Error('server closed without a reply');
  return reply;
}
