/**
 * Constants of the `.qvdb` container, named exactly as in docs/FORMAT.md ("The .qvdb container").
 * Changing any value here changes the file format: add a new format version instead.
 */

/** The 8 bytes at the start and at the very end of every .qvdb file (PNG-style: 0x89, "QVD", CR LF, ^Z, LF). */
export const MAGIC: Uint8Array = Uint8Array.of(0x89, 0x51, 0x56, 0x44, 0x0d, 0x0a, 0x1a, 0x0a);

/** The first four magic bytes; a file starting with them but not the full magic was mangled in transit. */
export const MAGIC_PREFIX_LENGTH = 4;

/** The format version this code writes and the only one it reads. */
export const FORMAT_VERSION = 1;

/** Header size in bytes; every version keeps the magic at 0, the version at 8 and the header CRC at 28. */
export const HEADER_SIZE = 32;
/** Byte offset of the header CRC32 (covering bytes 0..27). */
export const HEADER_CRC_OFFSET = 28;

/** Footer size in bytes; the footer ends the file. */
export const FOOTER_SIZE = 64;
/** Byte offset, inside the footer, of the footer CRC32 (covering footer bytes 0..51). */
export const FOOTER_CRC_OFFSET = 52;
/** Byte offset, inside the footer, of the trailing copy of the magic. */
export const FOOTER_MAGIC_OFFSET = 56;

/** File kinds (header byte 12, manifest `kind`). */
export const FileKind = { FULL: 1, DELTA: 2 } as const;
/** A file kind code. */
export type FileKindCode = (typeof FileKind)[keyof typeof FileKind];

/** Section types (directory entry byte 0). INDEX is reserved: v1 writers never emit it, v1 readers skip it. */
export const SectionType = { MANIFEST: 1, IDS: 2, VECTORS: 3, METADATA: 4, DELETED: 5, INDEX: 6 } as const;
/** A section type code. */
export type SectionTypeCode = (typeof SectionType)[keyof typeof SectionType];

/** Section codecs (directory entry byte 1). */
export const Codec = { NONE: 0, GZIP: 1, BROTLI: 2 } as const;
/** A codec code. */
export type CodecCode = (typeof Codec)[keyof typeof Codec];

/** Size of the directory preamble (entry count u32, entry size u16, reserved u16). */
export const DIRECTORY_HEADER_SIZE = 8;
/** Size of one v1 directory entry. Readers accept larger entries and read the first 64 bytes. */
export const DIRECTORY_ENTRY_SIZE = 64;
/** Most directory entries a reader accepts (a sanity bound; v1 writes at most 5). */
export const MAX_DIRECTORY_ENTRIES = 64;

/** VECTORS sections stored with codec NONE start at a multiple of this many bytes. */
export const VECTORS_ALIGNMENT = 64;
/** Gaps between sections are zero padding shorter than this. */
export const MAX_PADDING = 64;

/** Most items in one record-stream frame (one MessagePack array). */
export const FRAME_MAX_ITEMS = 65_536;
/**
 * Writers close a frame once its encoded items reach about this many bytes (readers do not rely on
 * it). Small, because a frame is encoded in one go on the thread that keeps a save's vector writes
 * going (see FramesAhead): with 1 MiB frames a 100,000-entry save took ~40% longer than with 32 KiB.
 */
export const FRAME_TARGET_BYTES = 32 << 10;
/** Size of the little-endian u32 length prefix of a frame. */
export const FRAME_LENGTH_SIZE = 4;

/** Default compression levels: gzip 6 (zlib's default), brotli 4 (its default 11 is far too slow for vectors). */
export const DEFAULT_GZIP_LEVEL = 6;
/** See {@link DEFAULT_GZIP_LEVEL}. */
export const DEFAULT_BROTLI_LEVEL = 4;

/** Largest raw length a reader accepts for the MANIFEST section. */
export const MAX_MANIFEST_BYTES = 64 << 20;

/** Largest dimension a reader accepts (bounds work done on a hostile manifest). */
export const MAX_DIMENSION = 1 << 20;

/** Bytes per positional read/write of vector data (large enough to reach disk bandwidth). */
export const IO_CHUNK_BYTES = 8 << 20;
/** Bytes per read of a compressed or record-stream section. */
export const STREAM_CHUNK_BYTES = 1 << 20;

/** The `library` written into manifests. Keep in step with package.json. */
export const LIBRARY_VERSION = 'quiverdb 0.1.0';
