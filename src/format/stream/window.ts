/** Sizing the refillable read window of the streaming parsers. */

/** Initial read window for a source of at most `sizeBound` bytes: small files get a small one. */
export function windowSizeFor(sizeBound: number): number {
  return Math.max(1 << 16, Math.min(1 << 22, sizeBound + 1));
}
