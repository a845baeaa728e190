import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { S3SnapshotStore } from '../../src/storage/s3-store.js';
import { RetryingSnapshotStore } from '../../src/storage/retry-store.js';
import { VerifyingSnapshotStore } from '../../src/storage/verify-store.js';
import { createServer, type Socket } from 'node:net';
import { localS3Config, recordCommands, startLocalS3, type LocalS3 } from '../../support/local-s3.js';
import { pattern, rejectsWithCode, runStoreSuite } from './store-suite.js';

let s3: LocalS3 | undefined;
const server = async (): Promise<LocalS3> => (s3 ??= await startLocalS3());
after(async () => s3?.close());

// A bucket of its own per test, so every test starts from an empty store.
runStoreSuite('S3SnapshotStore on a local S3 server', async () => {
  const srv = await server();
  return { store: new S3SnapshotStore({ bucket: await srv.bucket(), clientConfig: srv.config, partSize: 5 * 1024 * 1024 }) };
});

runStoreSuite('S3SnapshotStore under a prefix, shared client', async () => {
  const srv = await server();
  // The SDK's own retries (3 attempts): s3rver's multi-object delete races with itself now and then (HTTP 500).
  const client = srv.client({ maxAttempts: 3 });
  return { store: new S3SnapshotStore({ bucket: await srv.bucket(), prefix: 'backups/prod', client }), cleanup: async () => client.destroy() };
});

runStoreSuite('VerifyingSnapshotStore(RetryingSnapshotStore(S3SnapshotStore))', async () => {
  const srv = await server();
  return { store: new VerifyingSnapshotStore(new RetryingSnapshotStore(new S3SnapshotStore({ bucket: await srv.bucket(), clientConfig: srv.config }))) };
});

describe('S3SnapshotStore', () => {
  let srv: LocalS3;
  let client: S3Client;
  before(async () => {
    srv = await server();
    client = srv.client();
  });
  after(() => client.destroy());

  test('a body longer than one part goes up as a multipart upload and reads back exactly', async () => {
    const bucket = await srv.bucket();
    const sent = recordCommands(client);
    const store = new S3SnapshotStore({ bucket, client, partSize: 5 * 1024 * 1024, queueSize: 2 });
    const big = pattern(12 * 1024 * 1024 + 7, 3);
    async function* pieces(): AsyncIterable<Uint8Array> {
      for (let at = 0; at < big.length; at += 1_000_003) yield big.subarray(at, Math.min(big.length, at + 1_000_003));
    }
    assert.deepEqual(await store.put('snap/vectors.bin', pieces()), { key: 'snap/vectors.bin', size: big.length });
    assert.equal(sent.filter((c) => c === 'UploadPartCommand').length, 3);
    assert.ok(sent.includes('CompleteMultipartUploadCommand'));
    assert.ok(Buffer.from(await store.get('snap/vectors.bin')).equals(Buffer.from(big)));
    // A Uint8Array body over one part is split too; under one part it is a single PutObject.
    sent.length = 0;
    await store.put('snap/array.bin', big);
    assert.equal(sent.filter((c) => c === 'UploadPartCommand').length, 3);
    sent.length = 0;
    await store.put('snap/small.bin', big.subarray(0, 1000));
    assert.deepEqual(sent, ['PutObjectCommand']);
    assert.equal((await store.stat('snap/array.bin'))?.size, big.length);
  });

  test('a producer failing or a signal firing in the middle of a multipart upload aborts it; the old object stays', async () => {
    const bucket = await srv.bucket();
    const sent = recordCommands(client);
    const store = new S3SnapshotStore({ bucket, client, partSize: 5 * 1024 * 1024, queueSize: 1 });
    await store.put('k/obj', new TextEncoder().encode('old'));
    const part = pattern(6 * 1024 * 1024, 5);
    sent.length = 0;
    await assert.rejects(store.put('k/obj', async (write) => {
      await write(part);
      await write(part);
      throw new Error('producer failed');
    }), /producer failed/);
    assert.ok(sent.includes('CreateMultipartUploadCommand'), 'a multipart upload was started');
    assert.ok(sent.includes('AbortMultipartUploadCommand'), 'and aborted');
    assert.ok(!sent.includes('CompleteMultipartUploadCommand'));
    assert.equal(new TextDecoder().decode(await store.get('k/obj')), 'old');

    sent.length = 0;
    const ac = new AbortController();
    await rejectsWithCode(store.put('k/obj', async (write) => {
      await write(part);
      await write(part);
      ac.abort();
      await write(part);
    }, { signal: ac.signal }), 'ABORTED');
    assert.ok(!sent.includes('CompleteMultipartUploadCommand'));
    assert.equal(new TextDecoder().decode(await store.get('k/obj')), 'old');
    assert.deepEqual((await store.list()).map((o) => o.key), ['k/obj']);
  });

  test('service failures become typed errors: a missing bucket, refused credentials, an unreachable endpoint', async () => {
    const missing = new S3SnapshotStore({ bucket: 'no-such-bucket-here', client });
    await rejectsWithCode(missing.put('a', new Uint8Array(1)), 'INVALID_ARGUMENT');
    await rejectsWithCode(missing.list(), 'INVALID_ARGUMENT');
    await rejectsWithCode(missing.get('a'), 'INVALID_ARGUMENT');

    const bucket = await srv.bucket();
    const wrong = new S3SnapshotStore({ bucket, clientConfig: { ...srv.config, maxAttempts: 1, credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'S3RVER' } } });
    await rejectsWithCode(wrong.put('a', new Uint8Array(1)), 'EACCES');
    await rejectsWithCode(wrong.list(), 'EACCES');
    wrong.close();

    // A port nothing listens on (the server's own, after it is closed, would race other tests).
    const gone = new S3SnapshotStore({ bucket, clientConfig: { ...srv.config, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 } });
    await rejectsWithCode(gone.get('a'), 'IO_ERROR');
    await rejectsWithCode(gone.put('a', new Uint8Array(1)), 'IO_ERROR');
    assert.ok(await new RetryingSnapshotStore(gone, { retries: 1, baseDelayMs: 1 }).stat('a').then(() => false, (e: { code?: string }) => e.code === 'IO_ERROR'), 'IO_ERROR is transient for the retry wrapper, and still reported');
    gone.close();
  });

  test('objects other tools left under the prefix with names no key can have are not listed; keys outside the prefix are invisible', async () => {
    const bucket = await srv.bucket();
    const store = new S3SnapshotStore({ bucket, client, prefix: 'db1/' });
    await store.put('snapshot-a/metadata.json', new Uint8Array(2));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'db1/notes with spaces.txt', Body: 'x' }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'db1/.hidden', Body: 'x' }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'db2/snapshot-b/metadata.json', Body: 'x' }));
    assert.deepEqual((await store.list()).map((o) => o.key), ['snapshot-a/metadata.json']);
    assert.equal(store.locate('snapshot-a/metadata.json'), `s3://${bucket}/db1/snapshot-a/metadata.json`);
    assert.equal(await store.deletePrefix(''), 1);
    assert.equal(await new S3SnapshotStore({ bucket, client, prefix: 'db2' }).stat('snapshot-b/metadata.json').then((s) => s?.size), 1);
  });

  test('interrupted multipart uploads are dated for garbage collection and swept by age', async () => {
    const bucket = await srv.bucket();
    const faked = srv.client();
    const aborted: string[] = [];
    // The local server cannot list multipart uploads; the service's answers are played here.
    faked.middlewareStack.add((next, context) => async (args) => {
      const input = args.input as { Prefix?: string; Key?: string };
      if (context.commandName === 'ListMultipartUploadsCommand') {
        const uploads = [
          { Key: 'p/snapshot-x/vectors.bin', UploadId: 'u1', Initiated: new Date(1_000) },
          { Key: 'p/snapshot-y/vectors.bin', UploadId: 'u2', Initiated: new Date(5_000) },
        ].filter((u) => u.Key.startsWith(input.Prefix ?? ''));
        return { output: { Uploads: uploads, IsTruncated: false, $metadata: {} }, response: {} };
      }
      if (context.commandName === 'ListPartsCommand') {
        // snapshot-x's upload has made no progress since it began; snapshot-y's last part came at 9,000.
        const parts = (args.input as { UploadId?: string }).UploadId === 'u2' ? [{ PartNumber: 1, LastModified: new Date(9_000) }] : [];
        return { output: { Parts: parts, IsTruncated: false, $metadata: {} }, response: {} };
      }
      if (context.commandName === 'AbortMultipartUploadCommand') {
        aborted.push(String(input.Key));
        return { output: { $metadata: {} }, response: {} };
      }
      return next(args);
    }, { step: 'initialize', name: 'fakeUploads' });
    const store = new S3SnapshotStore({ bucket, client: faked, prefix: 'p' });
    // S3 reports whole seconds: a time is taken as the last millisecond of its second.
    assert.equal(await store.newestInProgress('snapshot-x/'), 1_999);
    assert.equal(await store.newestInProgress('snapshot-'), 9_999, 'dated by its newest part, not its start');
    assert.equal(await store.newestInProgress('snapshot-z/'), undefined);
    assert.deepEqual(await store.sweep(2_000), ['snapshot-x/vectors.bin']);
    assert.deepEqual(aborted, ['p/snapshot-x/vectors.bin']);
    aborted.length = 0;
    assert.deepEqual(await store.sweep(8_000), ['snapshot-x/vectors.bin'], 'an upload begun before the cutoff but still sending parts is not swept');
    aborted.length = 0;
    await store.put('snapshot-y/metadata.json', new Uint8Array(3));
    assert.equal(await store.deletePrefix('snapshot-y/'), 1);
    assert.deepEqual(aborted, ['p/snapshot-y/vectors.bin'], 'deleting a folder aborts the uploads into it');
    faked.destroy();
    // The real local server does not implement the listing: nothing to date or sweep.
    const plain = new S3SnapshotStore({ bucket, client });
    assert.equal(await plain.newestInProgress('snapshot-x/'), undefined);
    assert.deepEqual(await plain.sweep(Date.now() + 60_000), []);
  });

  /** A client whose commands named in `play` are answered (or failed) by the given functions. */
  function playing(play: Record<string, (input: Record<string, unknown>, next: () => Promise<unknown>) => Promise<unknown>>): S3Client {
    const c = srv.client();
    c.middlewareStack.add((next, context) => async (args) => {
      const fn = play[String(context.commandName)];
      if (!fn) return next(args);
      const output = await fn(args.input as Record<string, unknown>, () => next(args).then((r) => (r as { output: unknown }).output));
      return { output: { $metadata: {}, ...(output as object) }, response: {} };
    }, { step: 'initialize', name: `play${Math.random()}` });
    return c;
  }
  const sdkError = (Code: string, httpStatusCode: number): Error => Object.assign(new Error(`simulated ${Code}`), { name: Code, Code, $metadata: { httpStatusCode } });
  const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  test('an abort after the producer finished, while parts are still uploading, publishes nothing', async () => {
    const bucket = await srv.bucket();
    const ac = new AbortController();
    const c = playing({ UploadPartCommand: async (_input, next) => {
      await delay(150);
      return next();
    } });
    const sent = recordCommands(c);
    const store = new S3SnapshotStore({ bucket, client: c, partSize: 5 * 1024 * 1024 });
    await store.put('k/obj', new TextEncoder().encode('old'));
    const body = pattern(11 * 1024 * 1024, 4);
    const put = store.put('k/obj', async (write) => {
      await write(body);
      setTimeout(() => ac.abort(), 20); // the producer is done; the parts are in flight
    }, { signal: ac.signal });
    await rejectsWithCode(put, 'ABORTED');
    assert.ok(!sent.includes('CompleteMultipartUploadCommand'), 'never completed');
    assert.ok(sent.includes('AbortMultipartUploadCommand'), 'the upload was aborted');
    assert.equal(new TextDecoder().decode(await store.get('k/obj')), 'old');
    c.destroy();

    // An abort that comes when every part is up, just before the completion, still publishes nothing.
    const late = new AbortController();
    let partsUp = 0;
    const c2 = playing({ UploadPartCommand: async (_input, next) => {
      const out = await next();
      if (++partsUp === 3) late.abort();
      return out;
    } });
    const sent2 = recordCommands(c2);
    const store2 = new S3SnapshotStore({ bucket, client: c2, partSize: 5 * 1024 * 1024, queueSize: 1 });
    await rejectsWithCode(store2.put('k/obj', body, { signal: late.signal }), 'ABORTED');
    assert.equal(partsUp, 3);
    assert.ok(!sent2.includes('CompleteMultipartUploadCommand') && sent2.includes('AbortMultipartUploadCommand'));
    assert.equal(new TextDecoder().decode(await store2.get('k/obj')), 'old');
    c2.destroy();
  });

  test('a part that fails while another is uploading is reported as itself, not as an abort', async () => {
    const bucket = await srv.bucket();
    const c = playing({ UploadPartCommand: async (input, next) => {
      if (input.PartNumber === 2) {
        await delay(20);
        throw sdkError('InternalError', 500);
      }
      await delay(200);
      return next();
    } });
    const sent = recordCommands(c);
    const store = new S3SnapshotStore({ bucket, client: c, partSize: 5 * 1024 * 1024, queueSize: 4 });
    for (const body of [pattern(16 * 1024 * 1024, 6), async function* () { yield pattern(16 * 1024 * 1024, 7); }()]) {
      sent.length = 0;
      await assert.rejects(store.put('k/big', body), (err: { code?: string; details?: { s3Code?: string; httpStatus?: number } }) => {
        assert.equal(err.code, 'IO_ERROR');
        assert.equal(err.details?.s3Code, 'InternalError');
        assert.equal(err.details?.httpStatus, 500);
        return true;
      });
      assert.ok(sent.includes('AbortMultipartUploadCommand') && !sent.includes('CompleteMultipartUploadCommand'));
      assert.equal(await store.stat('k/big'), null);
    }
    // An upload that someone else aborted meanwhile (NoSuchUpload) is transient: a retry can redo the put.
    const gone = playing({ UploadPartCommand: async () => {
      throw sdkError('NoSuchUpload', 404);
    } });
    await rejectsWithCode(new S3SnapshotStore({ bucket, client: gone, partSize: 5 * 1024 * 1024 }).put('k/big', pattern(11 * 1024 * 1024, 8)), 'IO_ERROR');
    c.destroy();
    gone.destroy();
  });

  test('ABORTED only when the signal came first: a publishing request that fails after the signal fired is an IO_ERROR of unknown outcome; an earlier cause stays the cause', async () => {
    const bucket = await srv.bucket();
    let ac = new AbortController();
    // The service stores the object, then the connection drops after the caller aborted.
    const dropAfterStore = async (_input: Record<string, unknown>, next: () => Promise<unknown>): Promise<unknown> => {
      await next();
      ac.abort();
      throw Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET', $metadata: {} });
    };
    const c = playing({ PutObjectCommand: dropAfterStore, CompleteMultipartUploadCommand: dropAfterStore });
    const store = new S3SnapshotStore({ bucket, client: c, partSize: 5 * 1024 * 1024 });
    for (const body of [new TextEncoder().encode('new'), pattern(11 * 1024 * 1024, 9)]) {
      ac = new AbortController();
      await assert.rejects(store.put('k/obj', body, { signal: ac.signal }), (err: { code?: string; details?: { outcomeUnknown?: boolean } }) => {
        assert.equal(err.code, 'IO_ERROR');
        assert.equal(err.details?.outcomeUnknown, true);
        return true;
      });
    }
    c.destroy();

    // A part fails, then the signal fires while the upload is being aborted: the part's failure is the cause.
    let ac2 = new AbortController();
    const c2 = playing({
      UploadPartCommand: async () => {
        throw sdkError('InternalError', 500);
      },
      AbortMultipartUploadCommand: async (_input, next) => {
        ac2.abort();
        return next();
      },
    });
    const store2 = new S3SnapshotStore({ bucket, client: c2, partSize: 5 * 1024 * 1024 });
    await assert.rejects(store2.put('k/big', pattern(11 * 1024 * 1024, 10), { signal: ac2.signal }), (err: { code?: string; details?: { s3Code?: string } }) => {
      assert.equal(err.code, 'IO_ERROR');
      assert.equal(err.details?.s3Code, 'InternalError');
      return true;
    });
    // The producer fails, then the signal fires during the cleanup: the producer's error is the cause.
    ac2 = new AbortController();
    const c3 = playing({ AbortMultipartUploadCommand: async (_input, next) => {
      ac2.abort();
      return next();
    } });
    const mine = new Error('producer broke');
    await assert.rejects(new S3SnapshotStore({ bucket, client: c3, partSize: 5 * 1024 * 1024 }).put('k/big', async (write) => {
      await write(pattern(6 * 1024 * 1024, 11));
      throw mine;
    }, { signal: ac2.signal }), (err) => err === mine);
    assert.equal(await store2.stat('k/big'), null);
    c2.destroy();
    c3.destroy();
  });

  test('a producer that swallows a failed write cannot publish what it writes after it', async () => {
    const bucket = await srv.bucket();
    const c = playing({ CreateMultipartUploadCommand: async () => {
      throw sdkError('InternalError', 500);
    } });
    const store = new S3SnapshotStore({ bucket, client: c, partSize: 5 * 1024 * 1024 });
    await store.put('k/obj', new TextEncoder().encode('old'));
    await rejectsWithCode(store.put('k/obj', async (write) => {
      // A careless producer: every write's error is swallowed.
      for (const chunk of [pattern(6 * 1024 * 1024, 12), new Uint8Array(10)]) await write(chunk).catch(() => undefined);
    }), 'IO_ERROR');
    assert.equal(new TextDecoder().decode(await store.get('k/obj')), 'old');
    c.destroy();
  });

  test("other tools' multipart uploads under the prefix are neither dated, swept nor aborted", async () => {
    const bucket = await srv.bucket();
    const aborted: string[] = [];
    const c = playing({
      ListMultipartUploadsCommand: async () => ({ Uploads: [{ Key: 'p/notes with spaces.bin', UploadId: 'f1', Initiated: new Date(1_000) }, { Key: 'p/.tmp/x', UploadId: 'f2', Initiated: new Date(1_000) }], IsTruncated: false }),
      AbortMultipartUploadCommand: async (input) => {
        aborted.push(String(input.Key));
        return {};
      },
    });
    const store = new S3SnapshotStore({ bucket, client: c, prefix: 'p' });
    assert.deepEqual(await store.sweep(Date.now()), []);
    assert.equal(await store.newestInProgress(''), undefined);
    await store.deletePrefix('');
    assert.deepEqual(aborted, []);
    c.destroy();
  });

  test('list follows continuation pages; deletePrefix removes in batches of 1,000', async () => {
    const bucket = await srv.bucket();
    const keys = Array.from({ length: 2345 }, (_, i) => `snapshot-x/f${String(2345 - i).padStart(5, '0')}`);
    const deleted: string[][] = [];
    const c = playing({
      ListObjectsV2Command: async (input) => {
        const start = Number(input.ContinuationToken ?? 0);
        const page = keys.slice(start, start + 1000);
        const more = start + 1000 < keys.length;
        return { Contents: page.map((k) => ({ Key: `p/${k}`, Size: 1, LastModified: new Date(0) })), IsTruncated: more, NextContinuationToken: more ? String(start + 1000) : undefined };
      },
      DeleteObjectsCommand: async (input) => {
        deleted.push((input.Delete as { Objects: { Key: string }[] }).Objects.map((o) => o.Key));
        return { Errors: [] };
      },
    });
    const store = new S3SnapshotStore({ bucket, client: c, prefix: 'p' });
    const listed = (await store.list('snapshot-x/')).map((o) => o.key);
    assert.equal(listed.length, keys.length);
    assert.deepEqual(listed, [...keys].sort(), 'every page, sorted');
    assert.equal(await store.deletePrefix('snapshot-x/'), keys.length);
    assert.deepEqual(deleted.map((b) => b.length), [1000, 1000, 345]);
    assert.ok(deleted.flat().every((k) => k.startsWith('p/snapshot-x/')));
    c.destroy();
  });

  test('a missing bucket is INVALID_ARGUMENT for stat and delete too; an onChunk that throws is not a service failure', async () => {
    const missing = new S3SnapshotStore({ bucket: 'no-such-bucket-here', client });
    await rejectsWithCode(missing.stat('a'), 'INVALID_ARGUMENT');
    await rejectsWithCode(missing.delete('a'), 'INVALID_ARGUMENT');
    const store = new S3SnapshotStore({ bucket: await srv.bucket(), client });
    assert.equal(await store.stat('absent'), null, 'the bucket exists: a missing object is null');
    await store.put('r/obj', pattern(3 * 1024 * 1024, 2));
    const mine = new Error('my onChunk broke');
    await assert.rejects(store.readInto('r/obj', new Uint8Array(4 * 1024 * 1024), { chunkBytes: 1 << 20, onChunk: () => {
      throw mine;
    } }), (err) => err === mine);
    const parts: Uint8Array[] = [];
    for await (const c of store.read('r/obj', { chunkBytes: Number.NaN })) parts.push(c);
    assert.equal(Buffer.concat(parts).length, 3 * 1024 * 1024, 'a chunk size that is not a number reads in the default chunks');
  });

  test('options are checked', () => {
    assert.throws(() => new S3SnapshotStore(undefined as never), TypeError);
    for (const bucket of ['', 'ab', 'Upper', 'under_score', 'x'.repeat(64), 42]) {
      assert.throws(() => new S3SnapshotStore({ bucket: bucket as string }), { code: 'INVALID_ARGUMENT' });
    }
    for (const prefix of ['/abs', 'a//b', '../x', 'a/./b', 'a b', 'a\0b']) {
      assert.throws(() => new S3SnapshotStore({ bucket: 'abc', prefix }), { code: 'INVALID_ARGUMENT' });
    }
    assert.throws(() => new S3SnapshotStore({ bucket: 'abc', partSize: 1024 }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => new S3SnapshotStore({ bucket: 'abc', queueSize: 0 }), { code: 'INVALID_ARGUMENT' });
    assert.equal(new S3SnapshotStore({ bucket: 'abc', prefix: 'a/b' }).location, 's3://abc/a/b/');
    assert.equal(new S3SnapshotStore({ bucket: 'abc' }).location, 's3://abc/');
  });
});

test('s3Error: each kind of service answer gets the code a caller (and the retry wrapper) can act on', async () => {
  const { s3Error } = await import('../../src/storage/s3-errors.js');
  const { isTransient } = await import('../../src/storage/retry-store.js');
  const answer = (Code: string, httpStatusCode: number): Error => Object.assign(new Error(Code), { name: Code, Code, $metadata: { httpStatusCode } });
  const cases: [Error, string][] = [
    [answer('NoSuchKey', 404), 'NOT_FOUND'],
    [answer('NoSuchBucket', 404), 'INVALID_ARGUMENT'],
    [answer('PermanentRedirect', 301), 'INVALID_ARGUMENT'],
    [answer('AuthorizationHeaderMalformed', 400), 'INVALID_ARGUMENT'],
    [answer('AccessDenied', 403), 'EACCES'],
    [answer('SlowDown', 503), 'IO_ERROR'],
    [answer('InternalError', 500), 'IO_ERROR'],
    [answer('NoSuchUpload', 404), 'IO_ERROR'],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', $metadata: {} }), 'IO_ERROR'],
  ];
  for (const [err, code] of cases) {
    const mapped = s3Error(err, 'put', 's3://b/k');
    assert.equal(mapped.code, code, String(err.message));
    assert.equal(isTransient(mapped), code === 'IO_ERROR', `${err.message} is ${code === 'IO_ERROR' ? '' : 'not '}retried`);
  }
  const ac = new AbortController();
  ac.abort();
  assert.equal(s3Error(answer('InternalError', 500), 'get', 's3://b/k', ac.signal).code, 'ABORTED');

});

test('a signal stops a stat or a list whose request the service never answers, and a delete before it sends anything', async () => {
  // A service that accepts connections and never answers: only the signal can end these requests.
  const sockets = new Set<Socket>();
  const silent = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const { port } = silent.address() as { port: number };
  const store = new S3SnapshotStore({ bucket: 'never', clientConfig: { ...localS3Config(`http://127.0.0.1:${port}`), maxAttempts: 1 } });
  try {
    for (const op of [(signal: AbortSignal) => store.stat('a/b', { signal }), (signal: AbortSignal) => store.list('a/', { signal }), (signal: AbortSignal) => store.delete('a/b', { signal })]) {
      const ac = new AbortController();
      const started = Date.now();
      setTimeout(() => ac.abort(), 100);
      await rejectsWithCode(op(ac.signal), 'ABORTED');
      assert.ok(Date.now() - started < 5_000, 'the abort ended the request at once');
    }
  } finally {
    for (const sock of sockets) sock.destroy();
    await new Promise((r) => silent.close(r));
  }
});
