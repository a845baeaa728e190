/**
 * A local S3-compatible server (s3rver, files in a temp directory) for the S3 store's tests and
 * benchmark, with a client configured for it and a recorder of the commands the client sends.
 */
import S3rver from 's3rver';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CreateBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

// The SDK warns once per process that its releases from 2027 need Node 22; these versions run on 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** A running local S3 server. */
export interface LocalS3 {
  endpoint: string;
  /** Client settings for this server (path-style addressing, the server's fixed credentials). */
  config: S3ClientConfig;
  /** A new client; `maxAttempts` 1 unless given, so failures show at once. */
  client(extra?: Partial<S3ClientConfig>): S3Client;
  /** Creates a bucket and returns its name. */
  bucket(name?: string): Promise<string>;
  close(): Promise<void>;
}

let buckets = 0;

/** Starts s3rver on a free port of 127.0.0.1 over a fresh temp directory. */
export async function startLocalS3(): Promise<LocalS3> {
  const dir = mkdtempSync(join(tmpdir(), 'quiver-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: process.env.QUIVER_S3_LOG !== '1', directory: dir });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const config = localS3Config(endpoint);
  const admin = new S3Client({ ...config, maxAttempts: 1 });
  return {
    endpoint,
    config,
    client: (extra = {}) => new S3Client({ ...config, maxAttempts: 1, ...extra }),
    async bucket(name = `quiver-test-${process.pid}-${++buckets}`) {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async close() {
      admin.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Records the name of every command `client` sends (e.g. `AbortMultipartUploadCommand`). */
export function recordCommands(client: S3Client): string[] {
  const sent: string[] = [];
  client.middlewareStack.add((next, context) => async (args) => {
    sent.push(String(context.commandName));
    return next(args);
  }, { step: 'initialize', name: `quiverRecorder${Math.random()}` });
  return sent;
}

/** The client settings for a local server at `endpoint` (its fixed credentials, path-style addressing). */
export function localS3Config(endpoint: string): S3ClientConfig {
  return { endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } };
}
