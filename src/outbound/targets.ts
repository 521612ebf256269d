/**
 * Where outbound mail goes: "host:port" strings from the config
 * (smarthosts). Parsed once at config load, so a typo stops the node at
 * start instead of bouncing mail. Who may relay is a CIDR list (src/net/cidr.ts).
 */
export interface HostPort {
  host: string;
  port: number;
}

/** "host:port", "host" (defaultPort), "[v6]:port" or "[v6]". Throws Error with the reason. */
export function parseHostPort(s: string, defaultPort: number): HostPort {
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(s);
  const plain = /^([A-Za-z0-9._-]+)(?::(\d+))?$/.exec(s);
  const m = v6 ?? plain;
  if (!m) throw new Error(`"${s}" is not host:port`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`"${s}": port out of range`);
  return { host: m[1]!, port };
}
