/**
 * Strict UTF-8 decoding of a byte range, fast for the short ASCII strings that ids and metadata keys
 * mostly are: shared by the MessagePack interchange reader and the write-ahead log's record decoder.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });
const fcc = String.fromCharCode;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/** Up to 8 ASCII bytes as a string, without allocating a view (ids and metadata keys are mostly short). */
function short8(b: Uint8Array, p: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return fcc(b[p]);
    case 2:
      return fcc(b[p], b[p + 1]);
    case 3:
      return fcc(b[p], b[p + 1], b[p + 2]);
    case 4:
      return fcc(b[p], b[p + 1], b[p + 2], b[p + 3]);
    case 5:
      return fcc(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4]);
    case 6:
      return fcc(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5]);
    case 7:
      return fcc(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6]);
    default:
      return fcc(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
  }
}

/** Decodes `buf[start..end)` as strict UTF-8 (ASCII without a decoder call); undefined when invalid. */
export function utf8At(buf: Uint8Array, start: number, end: number): string | undefined {
  let i = start;
  while (i < end && buf[i] < 0x80) i++;
  if (i === end) {
    const n = end - start;
    if (n <= 8) return short8(buf, start, n);
    if (n <= 16) return short8(buf, start, 8) + short8(buf, start + 8, n - 8);
    return latin1Slice.call(buf, start, end);
  }
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    return undefined;
  }
}
