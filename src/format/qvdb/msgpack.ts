/**
 * Re-export of the shared MessagePack codec (src/util/msgpack.ts) under its historical .qvdb path.
 */
export * from '../../util/msgpack.js';
