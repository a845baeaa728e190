/** Interchange: every file format QuiverDB reads or writes, behind one registry. */
export { codecFor, convertFile, detectExchangeFormat, exchangeFormats, exportImage, formatForPath, importFile } from './registry.js';
export type { ConvertOptions, ExportImageOptions, ImportFileOptions } from './registry.js';
export { columnsImage } from './columns-image.js';
export type { ExchangeCodec, ExchangeCompression, ExchangeFormat, ExchangeReadOptions, ExchangeWriteOptions, ExchangeWriteResult, ImportedColumns } from '../format/exchange.js';
