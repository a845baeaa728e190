/**
 * Byte order. VECTORS are little-endian float32 and NORMS little-endian float64; on little-endian hosts
 * (every platform Node ships for today) they are copied as-is, on big-endian hosts every 4-byte (8-byte)
 * word is swapped on the way in and out.
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

/** Reverses each 8-byte word of `bytes` in place (its length is a multiple of 8). */
function swap64InPlace(bytes: Uint8Array): void {
  for (let i = 0; i + 7 < bytes.length; i += 8) bytes.subarray(i, i + 8).reverse();
}

/** The little-endian bytes of float64 `values`: a zero-copy view on little-endian hosts, a swapped copy otherwise. */
export function littleEndianFloat64Bytes(values: Float64Array): Uint8Array {
  const view = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (HOST_IS_LITTLE_ENDIAN) return view;
  const copy = view.slice();
  swap64InPlace(copy);
  return copy;
}

/** Float64 values from their little-endian bytes (a length that is a multiple of 8), in new memory. */
export function float64FromLittleEndian(bytes: Uint8Array): Float64Array {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!HOST_IS_LITTLE_ENDIAN) swap64InPlace(copy);
  return new Float64Array(copy.buffer, 0, bytes.length / 8);
}
