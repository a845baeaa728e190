/**
 * The write-ahead log: record types, the group-committing writer, the verifying reader and segment
 * retention. Format: docs/FORMAT.md "Write-ahead log".
 */
export type { BatchOp, ClearOp, DecodedOp, DecodedRecord, DecodedUpsert, DeleteOp, Durability, UpdateMetadataOp, UpsertOp, WalEntry, WalOp, WalRecord } from './types.js';
export { WalWriter, type WalWriterOptions } from './writer.js';
export { WalReader, readWal, type ReadWalOptions, type WalOpSink, type WalReadSummary, type WalRepairReport, type WalTornTail } from './reader.js';
export { deleteSegmentsBefore } from './segment-files.js';
export { listSegments, type SegmentFile } from './segment.js';
export { DEFAULT_SEGMENT_BYTES, MAX_RECORD_PAYLOAD, SEGMENT_HEADER_SIZE, segmentName, parseSegmentName } from './constants.js';
