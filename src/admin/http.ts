/**
 * Admin HTTP: GET /health for load balancers and cluster managers (200 when
 * the node is ready for its role, 503 otherwise, JSON body either way) and
 * GET /metrics in the Prometheus text format from prom-client's default
 * register. Read-only; nothing here changes the node.
 */
import http from 'node:http';
import { register } from 'prom-client';
import type { Logger } from '../log/logger.js';
import { closeServer, listenOn } from '../net/listen.js';

export interface HealthReport {
  /** True when the node does what its role promises (primary: accepting mail; replica: applying). */
  ready: boolean;
  role: string;
  [detail: string]: unknown;
}

const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

export class AdminHttpServer {
  private readonly server: http.Server;
  private port: number | null = null;

  constructor(
    private readonly health: () => HealthReport,
    private readonly log: Logger,
  ) {
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    // Scrapers and health probes keep connections short; do not let one hold shutdown.
    this.server.keepAliveTimeout = 1000;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      if (url.pathname === '/health') {
        const h = this.health();
        res.writeHead(h.ready ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : `${json(h)}\n`);
        return;
      }
      if (url.pathname === '/metrics') {
        const body = await register.metrics();
        res.writeHead(200, { 'Content-Type': register.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    } catch (err) {
      this.log.error({ err, path: url.pathname }, 'admin request failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('internal error\n');
    }
  }

  async listen(spec: string): Promise<void> {
    this.port = await listenOn(this.server, spec, 'admin.listen');
  }

  address(): number | null {
    return this.port;
  }

  async close(): Promise<void> {
    const closed = closeServer(this.server);
    this.server.closeAllConnections();
    await closed;
    this.port = null;
  }
}
