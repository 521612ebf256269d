/** PROXY protocol v2 headers (HAProxy proxy-protocol.txt §2.2) for tests. */
const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 header: `verCmd` (0x21 = v2 PROXY), `famTrans` (0x11 = TCP over IPv4), address block + TLVs. */
export function v2(verCmd: number, famTrans: number, body: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([SIG, Buffer.from([verCmd, famTrans]), len, body]);
}

export function v2Inet(src: string, dst: string, sport: number, dport: number, tlvs: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(12);
  src.split('.').forEach((x, i) => (b[i] = Number(x)));
  dst.split('.').forEach((x, i) => (b[4 + i] = Number(x)));
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return v2(0x21, 0x11, Buffer.concat([b, tlvs]));
}
