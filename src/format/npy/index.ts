/**
 * The npy interchange format (docs/FORMAT.md "npy"): vectors as a NumPy `.npy` array of shape
 * (count, dimension), float32 little-endian, with `<name>.ids.json` and `<name>.metadata.jsonl`
 * beside it so that nothing is lost.
 */
import type { ExchangeCodec } from '../exchange.js';
import { hasNpyMagic } from './header.js';
import { readNpy } from './reader.js';
import { writeNpy } from './writer.js';

export { readNpy } from './reader.js';
export { writeNpy } from './writer.js';
export { npySidecarPaths } from './sidecars.js';
export { encodeNpyHeader, parseNpyHeader, hasNpyMagic, NPY_MAGIC, NPY_DESCR, NPY_ALIGNMENT, type NpyHeader } from './header.js';

/** NumPy .npy export and import (uncompressed only). */
export const npyCodec: ExchangeCodec = {
  format: 'npy',
  compressions: ['none'],
  canWrite: true,
  readsCompressed: false,
  extension: () => '.npy',
  sniff: hasNpyMagic,
  write: (fs, path, image, options) => writeNpy(fs, path, image, options),
  read: (fs, path, options) => readNpy(fs, path, options),
};
