/**
 * The streaming JSON state format (docs/FORMAT.md "JSON state files"): what
 * `DatabasePersistence.save({ format: 'json' })` writes and `load` reads.
 */
export { writeJsonState, type WriteJsonStateOptions, type JsonWriteResult } from './writer.js';
export { readJsonState, readJsonStateFrom, type ReadJsonStateOptions, type ReadJsonSourceOptions, type JsonStateReadResult } from './reader.js';
export { JSON_FORMAT_NAME, JSON_FORMAT_VERSION, JSON_STATE_VERSION, type JsonStateHeader, type JsonStateStats } from './header.js';
export { chunkByteSource, fileByteSource, type ByteSource, type JsonCompression } from '../stream/sources.js';
export { float32ToJson, writeFloat32, writeVectorText, MAX_FLOAT32_CHARS } from './float-format.js';
export { parseFloat32, parseFloat32At } from './float-parse.js';
