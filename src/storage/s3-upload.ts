/**
 * The put of the S3 store: a body becomes one object, published whole or not at all.
 *
 * A body up to one part is one PutObject. A longer one is a multipart upload: parts of `partSize` bytes,
 * `queueSize` of them in flight at once, then CompleteMultipartUpload, the one request that publishes.
 * The signal is checked for the last time just before that request (or before the PutObject) and is
 * never handed to it: an abort that cut a publishing request short could not tell whether S3 had
 * already published, and "aborted" must mean "nothing was changed". Until then an abort, a failed part
 * or a failing producer cancels the parts in flight and aborts the upload (awaited, so no parts are
 * left), and the put rejects with the cause that came first.
 *
 * Written here rather than with `@aws-sdk/lib-storage`'s uploader, which cannot stop between its last
 * part and its completion (an abort there published the object), waits for parts in flight without
 * cancelling them, and reports a failed part as an abort when another part was still uploading.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { QuiverError } from '../errors.js';
import { KeptBuffers } from '../util/kept-buffers.js';
import { s3Error } from './s3-errors.js';
import { checkAbort, pumpBody, type StoreBody } from './store.js';

/**
 * Part buffers of streamed puts, kept between parts and puts: a fresh 8 MiB buffer costs ~20 ms of page
 * faults on machines where first touches of memory are slow, once per part otherwise.
 */
const partBuffers = new KeptBuffers<Uint8Array>(8, 64 << 20);

/** How long a failed put waits for its upload to be aborted before leaving it to `sweep`. */
const ABORT_UPLOAD_MS = 30_000;

/** The SDK module, loaded on first use (s3-store.ts). */
export type ClientModule = typeof import('@aws-sdk/client-s3');

/** Where and how {@link uploadObject} writes. */
export interface UploadTarget {
  client: S3Client;
  s3: ClientModule;
  bucket: string;
  /** The object's key in the bucket (prefix included). */
  key: string;
  /** The object's location, for messages. */
  where: string;
  partSize: number;
  queueSize: number;
}

/**
 * Uploads `body` as one object; resolves with its size once it is published. Rejects with whichever
 * cause came first: the producer's own error, ABORTED (the signal), or the QuiverError of the first
 * failed request; in each case nothing was published and the upload's parts are gone. Only a failed
 * publishing request leaves the outcome open: its IO_ERROR says the object may be either version.
 */
export async function uploadObject(t: UploadTarget, body: StoreBody, signal: AbortSignal | undefined, what: string): Promise<number> {
  const { client, s3, bucket: Bucket, key: Key } = t;
  /** Sends the request that publishes; its failure is never called an abort (see the module comment). */
  const publish = async (request: () => Promise<unknown>): Promise<void> => {
    checkAbort(signal, what);
    try {
      await request();
    } catch (err) {
      const e = s3Error(err, 'put', t.where);
      if (e.code !== 'IO_ERROR') throw e;
      throw new QuiverError('IO_ERROR', `${e.message} (the request that publishes the object had been sent: it may hold the new body or still the old one)`, { ...e.details, outcomeUnknown: true }, { cause: err });
    }
  };
  if (body instanceof Uint8Array && body.length <= t.partSize) {
    await publish(() => client.send(new s3.PutObjectCommand({ Bucket, Key, Body: body, ContentLength: body.length })));
    return body.length;
  }
  // A Uint8Array body stays unchanged until the put settles, so its parts are views; a streamed chunk
  // may be reused once its write resolves, so it is copied into a part buffer.
  const stable = body instanceof Uint8Array;
  const parts: { PartNumber: number; ETag: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  const cancelParts = new AbortController();
  const onAbort = (): void => cancelParts.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let uploadId: string | undefined;
  /** The first failed request, and whether the signal had fired before it (then it is the signal's doing). */
  let failure: { err: unknown; aborted: boolean } | undefined;
  const fail = (err: unknown): void => {
    failure ??= { err, aborted: signal?.aborted === true };
    cancelParts.abort();
  };
  /** Throws the first failure, if a request failed (read through a call: requests set it meanwhile). */
  const throwIfFailed = (): void => {
    if (failure) throw failure.err;
  };
  let part: Uint8Array | undefined;
  let fill = 0;
  let partNumber = 0;

  /** Uploads `data` as the next part; `pooled` is the part buffer to give back once the request is over. */
  const send = async (data: Uint8Array, pooled?: Uint8Array): Promise<void> => {
    try {
      uploadId ??= (await client.send(new s3.CreateMultipartUploadCommand({ Bucket, Key }), { abortSignal: cancelParts.signal })).UploadId;
    } catch (err) {
      if (pooled) partBuffers.give(pooled);
      fail(err);
      throw err;
    }
    const PartNumber = ++partNumber;
    const sending = client
      .send(new s3.UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber, Body: data, ContentLength: data.length }), { abortSignal: cancelParts.signal })
      .then((out) => void parts.push({ PartNumber, ETag: out.ETag ?? '' }))
      // The first failure is the cause; the parts it cancels fail after it.
      .catch(fail)
      .finally(() => {
        inFlight.delete(sending);
        if (pooled) partBuffers.give(pooled);
      });
    inFlight.add(sending);
    while (inFlight.size >= t.queueSize) await Promise.race(inFlight);
    throwIfFailed();
  };

  const write = async (chunk: Uint8Array): Promise<void> => {
    for (let at = 0; at < chunk.length;) {
      throwIfFailed();
      if (stable && fill === 0 && chunk.length - at >= t.partSize) {
        await send(chunk.subarray(at, at + t.partSize));
        at += t.partSize;
        continue;
      }
      part ??= partBuffers.take((b) => b.byteLength === t.partSize) ?? new Uint8Array(t.partSize);
      const n = Math.min(t.partSize - fill, chunk.length - at);
      part.set(chunk.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === t.partSize) {
        const full = part;
        part = undefined;
        fill = 0;
        await send(full, full);
      }
    }
  };

  try {
    const size = await pumpBody(body, write, signal, what);
    // A producer that caught a write's error and went on must not publish what it wrote after it.
    throwIfFailed();
    if (uploadId === undefined && partNumber === 0) {
      // The whole body fit in one part: one PutObject publishes it.
      await publish(() => client.send(new s3.PutObjectCommand({ Bucket, Key, Body: (part ?? new Uint8Array(0)).subarray(0, fill), ContentLength: fill })));
      return size;
    }
    if (fill > 0 && part) {
      const last = part;
      part = undefined;
      await send(last.subarray(0, fill), last);
    }
    await Promise.all(inFlight);
    throwIfFailed();
    parts.sort((a, b) => a.PartNumber - b.PartNumber);
    // The last moment an abort can take the put back is inside publish, just before this is sent.
    await publish(() => client.send(new s3.CompleteMultipartUploadCommand({ Bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } })));
    return size;
  } catch (err) {
    cancelParts.abort();
    await Promise.allSettled([...inFlight]);
    if (uploadId !== undefined) {
      // Best effort, and bounded: an upload that cannot be aborted now is a leftover `sweep` collects.
      await client.send(new s3.AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(ABORT_UPLOAD_MS) }).catch(() => undefined);
    }
    if (failure && err === failure.err) {
      // A request failed first (or was cancelled because the signal fired first).
      throw failure.aborted ? new QuiverError('ABORTED', `${what} was aborted; nothing was changed`, { where: t.where }, { cause: err }) : s3Error(err, 'put', t.where);
    }
    // The producer's own error, ABORTED from the signal checks, or a publishing request's QuiverError.
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // A part buffer not handed to a request (a small body's, or one a failure left half filled).
    if (part) partBuffers.give(part);
  }
}
