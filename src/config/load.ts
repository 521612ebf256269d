import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { SCHEMA, type Config, type KeySpec, type Section } from './schema.js';
import { LIMITS } from '../limits.js';
import { compileUidlFormat } from '../accounts/uidl-format.js';
import { parseCidrList } from '../net/cidr.js';
import { parsePairSpec } from '../proxy/pairs.js';
import { parseHostPort } from '../outbound/targets.js';

/** A configuration problem; `key` names the offending key ("qmqp.listen"). */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Parse "host:port" ("[::1]:143" for IPv6); "" means disabled. */
export function parseListen(value: string): { host: string; port: number } | null {
  if (value === '') return null;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  if (!m) throw new Error(`expected "host:port", got ${JSON.stringify(value)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port ${port} out of range`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

function checkValue(key: string, spec: KeySpec, value: unknown): unknown {
  const fail = (why: string): never => {
    throw new ConfigError(key, why);
  };
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') fail(`expected a string, got ${JSON.stringify(value)}`);
      return value;
    case 'listen':
      if (typeof value !== 'string') fail(`expected "host:port" or "", got ${JSON.stringify(value)}`);
      try {
        parseListen(value as string);
      } catch (err) {
        fail((err as Error).message);
      }
      return value;
    case 'int': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) fail(`expected an integer, got ${JSON.stringify(String(value))}`);
      if ((n as number) < spec.min || (n as number) > spec.max) fail(`${n} is outside ${spec.min}..${spec.max}`);
      return n;
    }
    case 'bool':
      if (typeof value !== 'boolean') fail(`expected true or false, got ${JSON.stringify(value)}`);
      return value;
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value))
        fail(`expected one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}, got ${JSON.stringify(value)}`);
      return value;
    case 'strings':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) fail('expected an array of strings');
      return [...(value as string[])];
    case 'map': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('expected a table of "name" = "value"');
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string' || v === '') fail(`${k}: expected a non-empty string`);
        out[k.toLowerCase()] = v as string;
      }
      return out;
    }
  }
}

function applySection(out: Record<string, unknown>, name: string, spec: Section, given: Record<string, unknown>): void {
  for (const [k, ks] of Object.entries(spec)) {
    const full = name ? `${name}.${k}` : k;
    const fallback = Array.isArray(ks.default) ? [...ks.default] : typeof ks.default === 'object' ? { ...ks.default } : ks.default;
    out[k] = k in given ? checkValue(full, ks, given[k]) : fallback;
  }
}

/**
 * Validate a parsed TOML document against SCHEMA. Unknown sections and keys
 * stop the start with a message naming them, so a typo never silently falls
 * back to a default.
 */
export function buildConfig(doc: Record<string, unknown>, configFile: string | null, cwd = process.cwd()): Config {
  const sections = Object.keys(SCHEMA).filter((s) => s !== '');
  const isTable = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

  const root: Record<string, unknown> = {};
  const topGiven: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (k in SCHEMA[''] ) topGiven[k] = v;
    else if (sections.includes(k) || k === 'directory') {
      if (!isTable(v)) throw new ConfigError(k, 'expected a table');
    } else throw new ConfigError(k, 'unknown key');
  }
  applySection(root, '', SCHEMA[''], topGiven);

  for (const s of sections) {
    const parts = s.split('.');
    let given: unknown = doc;
    for (const p of parts) given = isTable(given) ? given[p] : undefined;
    const table = isTable(given) ? given : {};
    const spec = (SCHEMA as Record<string, Section>)[s]!;
    for (const k of Object.keys(table)) {
      const sub = `${s}.${k}`;
      if (k in spec) continue;
      if (sections.includes(sub)) continue; // nested table such as directory.ldap
      throw new ConfigError(sub, 'unknown key');
    }
    const out: Record<string, unknown> = {};
    applySection(out, s, spec, table);
    if (parts.length === 1) root[s] = { ...(root[s] as object), ...out };
    else {
      const parent = (root[parts[0]!] ??= {}) as Record<string, unknown>;
      parent[parts[1]!] = out;
    }
  }

  const dataDir = path.resolve(cwd, root.data_dir as string);
  const mailDir = (root.mail_dir as string) ? path.resolve(cwd, root.mail_dir as string) : path.join(dataDir, 'mail');
  if (((root.tls as { cert: string; key: string }).cert === '') !== ((root.tls as { key: string }).key === ''))
    throw new ConfigError('tls.cert', 'tls.cert and tls.key must be set together');
  resolveSecret(root.replication as Config['replication'], cwd);
  resolveLdapWritePassword((root.directory as Config['directory']).ldap, cwd);
  checkTargets(root);
  try {
    parseCidrList((root.proxy as Config['proxy']).trusted);
  } catch (err) {
    throw new ConfigError('proxy.trusted', (err as Error).message);
  }
  for (const [name, value] of Object.entries((root.cluster as Config['cluster']).hosts)) {
    try {
      parsePairSpec(value);
    } catch (err) {
      throw new ConfigError(`cluster.hosts.${name}`, (err as Error).message);
    }
  }
  // A proxied listener or auth_http with no trusted proxy would refuse everyone: say so at start.
  const proxy = root.proxy as Config['proxy'];
  for (const key of ['imap.proxy_listen', 'pop3.proxy_listen', 'proxy.auth_listen']) {
    const [sec, name] = key.split('.') as [string, string];
    if ((root[sec] as Record<string, string>)[name] !== '' && proxy.trusted.length === 0)
      throw new ConfigError(key, 'needs proxy.trusted: the proxies allowed to connect');
  }
  try {
    compileUidlFormat((root.pop3 as Config['pop3']).uidl_format);
  } catch (err) {
    throw new ConfigError('pop3.uidl_format', (err as Error).message);
  }
  return { ...(root as Omit<Config, 'paths'>), paths: { dataDir, mailDir, configFile } } as Config;
}

/** Smarthosts and relay networks are parsed here so a typo stops the start, not the mail. */
function checkTargets(root: Record<string, unknown>): void {
  const outbound = root.outbound as Config['outbound'];
  if (outbound.smarthosts.length > LIMITS.outbound.maxSmarthosts)
    throw new ConfigError('outbound.smarthosts', `at most ${LIMITS.outbound.maxSmarthosts} smarthosts`);
  outbound.smarthosts.forEach((s, i) => {
    try {
      parseHostPort(s, 25);
    } catch (err) {
      throw new ConfigError(`outbound.smarthosts[${i}]`, (err as Error).message);
    }
  });
  try {
    parseCidrList((root.qmqp as Config['qmqp']).relay_from);
  } catch (err) {
    throw new ConfigError('qmqp.relay_from', (err as Error).message);
  }
}

/**
 * Why `secret` is too weak to authenticate the replication link, or null.
 * A node sends a MAC under it to whatever answers at replication.peer, and a
 * MAC over inputs an impostor chose can be tested against guesses offline,
 * so only a long random key holds (`roost secret` prints one).
 */
export function secretWeakness(secret: string): string | null {
  const { minSecretLength, minSecretDistinctChars } = LIMITS.replication;
  const hint = 'generate one with `roost secret` and set it on both nodes';
  if (secret === '') return `required when replication.peer is set (at least ${minSecretLength} characters; ${hint})`;
  if ([...secret].length < minSecretLength) return `too short: ${[...secret].length} characters, at least ${minSecretLength} required (${hint})`;
  if (new Set(secret).size < minSecretDistinctChars) return `too weak: only ${new Set(secret).size} different characters (${hint})`;
  return null;
}

/** A file holding a secret (surrounding whitespace dropped), refused when others may read it. */
function readPrivateFile(key: string, name: string, cwd: string): string {
  const file = path.resolve(cwd, name);
  let mode: number;
  let text: string;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if ((mode & 0o007) !== 0) throw new ConfigError(key, `${file} is accessible to other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  return text;
}

/** directory.ldap.write_bind_password_file is read into write_bind_password, as replication.secret_file. */
function resolveLdapWritePassword(l: Config['directory']['ldap'], cwd: string): void {
  if (l.write_bind_password_file === '') return;
  if (l.write_bind_password !== '') throw new ConfigError('directory.ldap.write_bind_password_file', 'set directory.ldap.write_bind_password or write_bind_password_file, not both');
  l.write_bind_password = readPrivateFile('directory.ldap.write_bind_password_file', l.write_bind_password_file, cwd);
}

/**
 * replication.secret_file is read into replication.secret (surrounding
 * whitespace dropped); a file others may read is refused, as ssh refuses such
 * a private key. The strength is checked when replication is on (a peer is
 * set): the default config, with no peer and no secret, starts as before.
 */
function resolveSecret(r: Config['replication'], cwd: string): void {
  if (r.secret_file !== '') {
    if (r.secret !== '') throw new ConfigError('replication.secret_file', 'set replication.secret or replication.secret_file, not both');
    r.secret = readPrivateFile('replication.secret_file', r.secret_file, cwd);
  }
  const weak = r.peer === '' ? null : secretWeakness(r.secret);
  if (weak) throw new ConfigError(r.secret_file !== '' ? 'replication.secret_file' : 'replication.secret', weak);
}

/** Load the config file (`--config`, else ROOST_CONFIG, else defaults only). */
export function loadConfig(file?: string | null, overrides: Record<string, unknown> = {}): Config {
  const chosen = file ?? process.env.ROOST_CONFIG ?? null;
  let doc: Record<string, unknown> = {};
  if (chosen) {
    let text: string;
    try {
      text = readFileSync(chosen, 'utf8');
    } catch (err) {
      throw new ConfigError('--config', `cannot read ${chosen}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(chosen, `TOML syntax error: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const merged = deepMerge(doc, overrides);
  const cfg = buildConfig(merged, chosen ? path.resolve(chosen) : null, chosen ? path.dirname(path.resolve(chosen)) : process.cwd());
  return cfg;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      typeof v === 'object' && v && !Array.isArray(v) && typeof cur === 'object' && cur && !Array.isArray(cur)
        ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
