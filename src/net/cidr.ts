/**
 * Address lists in CIDR form ("127.0.0.1/32", "::1/128", "10.0.0.0/8"; a
 * bare address means the one host), for `proxy.trusted`: the proxies whose
 * PROXY headers and auth_http requests Roost believes.
 */
import { BlockList, isIP } from 'node:net';

export interface AddressSet {
  has(address: string): boolean;
}

/** Parse `entries`; throws naming the first bad entry. */
export function parseCidrList(entries: readonly string[]): AddressSet {
  const list = new BlockList();
  for (const entry of entries) {
    const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry.trim());
    const addr = m?.[1] ?? '';
    const family = isIP(addr);
    const bits = m?.[2] === undefined ? (family === 4 ? 32 : 128) : Number(m[2]);
    if (family === 0 || bits > (family === 4 ? 32 : 128)) throw new Error(`${JSON.stringify(entry)} is not an address or address/prefix`);
    list.addSubnet(addr, bits, family === 4 ? 'ipv4' : 'ipv6');
  }
  return {
    has(address: string): boolean {
      // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
      const a = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
      const family = isIP(a);
      if (family === 0) return false;
      return list.check(a, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
