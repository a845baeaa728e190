/**
 * An in-memory SnapshotStore: a sorted map of keys to byte arrays. Puts collect their chunks and
 * become visible in one step at the end, so they are atomic like every other store's. Useful for tests
 * and for short-lived processes that snapshot to memory before shipping bytes elsewhere.
 */
import { checkKey, checkPrefix } from './keys.js';
import { QuiverError } from '../errors.js';
import { checkAbort, notFound, pumpBody, type PutResult, type ReadIntoOptions, type SnapshotStore, type StoreBody, type StoreObjectInfo, type StoreOpOptions, type StoreReadOptions } from './store.js';

interface MemoryObject {
  data: Uint8Array;
  mtimeMs: number;
}

const DEFAULT_CHUNK = 4 << 20;

/** The in-memory snapshot store. */
export class MemorySnapshotStore implements SnapshotStore {
  readonly location = 'memory';
  private readonly objects = new Map<string, MemoryObject>();

  /** Number of objects held (diagnostics). */
  get size(): number {
    return this.objects.size;
  }

  /** Total bytes held (diagnostics). */
  get bytes(): number {
    let n = 0;
    for (const o of this.objects.values()) n += o.data.length;
    return n;
  }

  async put(key: string, body: StoreBody, options: StoreOpOptions = {}): Promise<PutResult> {
    checkKey(key);
    const parts: Uint8Array[] = [];
    const size = await pumpBody(body, async (chunk) => void parts.push(chunk.slice()), options.signal, `put ${key}`);
    const data = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    this.objects.set(key, { data, mtimeMs: Date.now() });
    return { key, size };
  }

  async get(key: string, options: StoreOpOptions = {}): Promise<Uint8Array> {
    checkKey(key);
    checkAbort(options.signal, `get ${key}`);
    const o = this.objects.get(key);
    if (!o) throw notFound(key, this.location);
    return o.data.slice();
  }

  async *read(key: string, options: StoreReadOptions = {}): AsyncIterable<Uint8Array> {
    checkKey(key);
    const o = this.objects.get(key);
    if (!o) throw notFound(key, this.location);
    const step = Math.max(1, options.chunkBytes ?? DEFAULT_CHUNK);
    // A replacing put swaps the map entry; the bytes captured here stay the old object's.
    const data = o.data;
    for (let at = 0; at < data.length; at += step) {
      checkAbort(options.signal, `read ${key}`);
      yield data.slice(at, Math.min(data.length, at + step));
    }
  }

  async readInto(key: string, target: Uint8Array, options: ReadIntoOptions = {}): Promise<number> {
    checkKey(key);
    checkAbort(options.signal, `read ${key}`);
    const o = this.objects.get(key);
    if (!o) throw notFound(key, this.location);
    if (o.data.length > target.length) throw new QuiverError('LIMIT_EXCEEDED', `memory:${key} holds ${o.data.length} bytes, more than the ${target.length} expected`, { key });
    target.set(o.data);
    options.onChunk?.(target.subarray(0, o.data.length));
    return o.data.length;
  }

  async stat(key: string, options: StoreOpOptions = {}): Promise<StoreObjectInfo | null> {
    checkKey(key);
    checkAbort(options.signal, `stat ${key}`);
    const o = this.objects.get(key);
    return o ? { key, size: o.data.length, mtimeMs: o.mtimeMs } : null;
  }

  async list(prefix = '', options: StoreOpOptions = {}): Promise<StoreObjectInfo[]> {
    checkPrefix(prefix);
    checkAbort(options.signal, `list ${prefix}`);
    const out: StoreObjectInfo[] = [];
    for (const [key, o] of this.objects) if (key.startsWith(prefix)) out.push({ key, size: o.data.length, mtimeMs: o.mtimeMs });
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string, options: StoreOpOptions = {}): Promise<boolean> {
    checkKey(key);
    checkAbort(options.signal, `delete ${key}`);
    return this.objects.delete(key);
  }

  async deletePrefix(prefix: string, options: StoreOpOptions = {}): Promise<number> {
    checkPrefix(prefix);
    checkAbort(options.signal, `delete ${prefix}`);
    let n = 0;
    for (const key of [...this.objects.keys()]) {
      if (key.startsWith(prefix)) {
        this.objects.delete(key);
        n++;
      }
    }
    return n;
  }

  async sweep(_olderThanMs: number): Promise<string[]> {
    return [];
  }

  locate(key: string): string {
    return `memory:${key}`;
  }

  /** Test hook: replaces an object's bytes in place (simulates damage at rest). */
  corrupt(key: string, mutate: (data: Uint8Array) => Uint8Array): void {
    const o = this.objects.get(checkKey(key));
    if (!o) throw notFound(key, this.location);
    o.data = mutate(o.data.slice());
  }
}
