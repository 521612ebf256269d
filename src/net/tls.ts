/**
 * The node's certificate: `tls.cert`/`tls.key` when configured, else a
 * self-signed one made on first start and kept in data_dir/tls/ so clients
 * that pinned it keep trusting it across restarts.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { createSecureContext } from 'node:tls';
import { generate } from 'selfsigned';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';

/** Validity of a generated certificate (days). */
const SELF_SIGNED_DAYS = 3650;

async function readPair(certFile: string, keyFile: string): Promise<SecureContextOptions | null> {
  try {
    const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
    return { cert, key };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Write atomically (tmp + rename) so a crash never leaves half a PEM file. */
async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, file);
}

export async function loadTls(config: Config, log: Logger): Promise<SecureContextOptions> {
  let opts: SecureContextOptions;
  if (config.tls.cert) {
    const base = config.paths.configFile ? path.dirname(config.paths.configFile) : process.cwd();
    const certFile = path.resolve(base, config.tls.cert);
    const keyFile = path.resolve(base, config.tls.key);
    const pair = await readPair(certFile, keyFile);
    if (!pair) throw new Error(`tls.cert: cannot read ${certFile} or ${keyFile}`);
    opts = pair;
  } else {
    const dir = path.join(config.paths.dataDir, 'tls');
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    const existing = await readPair(certFile, keyFile);
    if (existing) opts = existing;
    else {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const now = new Date();
      const pems = await generate([{ name: 'commonName', value: config.hostname }], {
        keyType: 'ec',
        curve: 'P-256',
        notBeforeDate: new Date(now.getTime() - 60_000),
        notAfterDate: new Date(now.getTime() + SELF_SIGNED_DAYS * 86_400_000),
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: config.hostname }, { type: 7, ip: '127.0.0.1' }] }],
      });
      await writeAtomic(keyFile, pems.private, 0o600);
      await writeAtomic(certFile, pems.cert, 0o644);
      log.info({ certFile }, 'made a self-signed certificate (set tls.cert and tls.key to use your own)');
      opts = { cert: pems.cert, key: pems.private };
    }
  }
  // Fail at start, not at the first handshake, when the pair does not match.
  try {
    createSecureContext(opts);
  } catch (err) {
    throw new Error(`tls.cert: certificate and key unusable: ${(err as Error).message}`, { cause: err });
  }
  return opts;
}
