/**
 * Byte order. VECTORS are little-endian float32; on little-endian hosts (every platform Node ships for
 * today) they are copied as-is, on big-endian hosts every 4-byte word is swapped on the way in and out.
 */

/** True when this host stores a Float32Array little-endian. */
export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Reverses each 4-byte word of `bytes` in place (its length is a multiple of 4). */
export function swap32InPlace(bytes: Uint8Array): void {
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const a = bytes[i];
    const b = bytes[i + 1];
    bytes[i] = bytes[i + 3];
    bytes[i + 1] = bytes[i + 2];
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

/** The little-endian bytes of `chunk`: a zero-copy view on little-endian hosts, a swapped copy otherwise. */
export function littleEndianBytes(chunk: Float32Array): Uint8Array {
  const view = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (HOST_IS_LITTLE_ENDIAN) return view;
  const copy = view.slice();
  swap32InPlace(copy);
  return copy;
}
