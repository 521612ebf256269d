/**
 * Rendered ENVELOPE / BODY / BODYSTRUCTURE values, shared by every session
 * of the process. A message's bytes never change under its (mailbox,
 * UIDVALIDITY, UID), so an entry is never stale; it only ages out. Without
 * it every UID FETCH 1:* (ENVELOPE BODYSTRUCTURE) reads and parses each
 * message's stored structure again (clients re-fetch these on every resync).
 * Bounded by bytes, evicting the least recently used (Map order).
 */

/** Byte budget for cached text (about 100,000 messages' envelopes and structures). */
const MAX_BYTES = 64 * 1024 * 1024;

export interface StructureTexts {
  envelope?: string;
  body?: string;
  bodystructure?: string;
}

class StructureTextCache {
  private readonly map = new Map<string, StructureTexts>();
  private bytes = 0;

  static key(accountId: string, mailbox: string, uidvalidity: number, uid: number): string {
    return `${accountId}\0${mailbox}\0${uidvalidity}\0${uid}`;
  }

  get(key: string): StructureTexts | undefined {
    const v = this.map.get(key);
    if (v) {
      // Most recently used goes to the end.
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, texts: StructureTexts): void {
    const old = this.map.get(key);
    if (old) this.bytes -= size(old);
    this.map.delete(key);
    this.map.set(key, texts);
    this.bytes += size(texts) + key.length;
    while (this.bytes > MAX_BYTES && this.map.size > 0) {
      const [k, v] = this.map.entries().next().value as [string, StructureTexts];
      this.map.delete(k);
      this.bytes -= size(v) + k.length;
    }
  }
}

const size = (t: StructureTexts): number => (t.envelope?.length ?? 0) + (t.body?.length ?? 0) + (t.bodystructure?.length ?? 0);

export const structureTexts = new StructureTextCache();
export const structureKey = StructureTextCache.key;
