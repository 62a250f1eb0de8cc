/**
 * The bitmap form of a member set: ⌈n/8⌉ bytes for a roster of n members, bit `i mod 8` (least
 * significant first) of byte `⌊i/8⌋` set exactly when roster index i is in the set, and every bit
 * past n − 1 clear. It is the one encoding of a set (canonical), n/8 bytes whatever the set holds,
 * against ≈ 3 bytes per member for a CBOR list of indices once n > 255; large sparse federations
 * send their member sets in it (`wire/messages.ts`, `compactForm`).
 *
 * @module
 */

/** The bitmap of `set` (strictly increasing indices, each below `n`) in a roster of `n` members. */
export function memberBitmap(set: readonly number[], n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(Math.ceil(n / 8));
  let previous = -1;
  for (const i of set) {
    if (!Number.isSafeInteger(i) || i <= previous || i >= n) {
      throw new RangeError(`not a strictly increasing set of indices below ${n}: ${i}`);
    }
    out[i >>> 3] |= 1 << (i & 7);
    previous = i;
  }
  return out;
}

/**
 * The members a bitmap of a roster of `n` members holds, ascending; undefined when `bytes` is
 * not one: a length other than ⌈n/8⌉, or a bit set past n − 1.
 */
export function fromMemberBitmap(bytes: Uint8Array, n: number): number[] | undefined {
  if (bytes.length !== Math.ceil(n / 8)) return undefined;
  if (n % 8 !== 0 && bytes.length > 0 && (bytes[bytes.length - 1] >>> (n % 8)) !== 0) {
    return undefined;
  }
  const set: number[] = [];
  for (let j = 0; j < bytes.length; j++) {
    let b = bytes[j];
    while (b !== 0) {
      const low = b & -b;
      set.push(8 * j + 31 - Math.clz32(low));
      b ^= low;
    }
  }
  return set;
}
