/**
 * Entry point of a JSON format worker thread (started by FormatPool): formats each request with
 * formatChunk and transfers the result back.
 */
import { parentPort } from 'node:worker_threads';
import { formatChunk, type FormatRequest } from './format-chunk.js';

if (parentPort) {
  const port = parentPort;
  port.on('message', (req: FormatRequest) => {
    const reply = formatChunk(req);
    port.postMessage(reply, [reply.text.buffer, reply.ends.buffer, reply.vectors.buffer] as ArrayBuffer[]);
  });
}
