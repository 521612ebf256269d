/**
 * Where outbound mail goes: "host:port" strings from the config (smarthosts,
 * cluster hosts) and the CIDR lists that say who may relay. Parsed once at
 * config load, so a typo stops the node at start instead of bouncing mail.
 */
import net from 'node:net';

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

/** A CIDR list ("127.0.0.0/8", "::1/128", or a bare address) as a BlockList. Throws Error with the reason. */
export function parseCidrList(list: readonly string[]): net.BlockList {
  const bl = new net.BlockList();
  for (const entry of list) {
    const [addr, bits] = entry.split('/');
    const family = net.isIP(addr ?? '');
    if (family === 0) throw new Error(`"${entry}" is not an address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) bl.addAddress(addr!, type);
    else {
      const n = Number(bits);
      if (!/^\d+$/.test(bits) || n > (family === 4 ? 32 : 128)) throw new Error(`"${entry}": bad prefix length`);
      bl.addSubnet(addr!, n, type);
    }
  }
  return bl;
}

/** Whether `peer` (as a socket reports it; IPv4-mapped IPv6 counts as IPv4) is in the list. */
export function peerAllowed(list: net.BlockList, peer: string | undefined): boolean {
  if (!peer) return false;
  const v4 = peer.startsWith('::ffff:') && net.isIPv4(peer.slice(7)) ? peer.slice(7) : peer;
  const family = net.isIP(v4);
  if (family === 0) return false;
  return list.check(v4, family === 4 ? 'ipv4' : 'ipv6');
}
