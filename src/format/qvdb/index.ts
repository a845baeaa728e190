/**
 * The .qvdb binary container: one file per database (kind full) or per change set (kind delta).
 * Specified byte by byte in docs/FORMAT.md.
 */
export { writeQvdb, type WriteQvdbOptions, type WriteQvdbResult } from './writer.js';
export { readQvdb, readQvdbInfo, type ReadQvdbOptions, type ReadQvdbResult, type QvdbInfo, type QvdbSectionInfo } from './reader.js';
export type { QvdbManifest } from './manifest.js';
export type { Compression } from './codec.js';
export * as qvdbConstants from './constants.js';
