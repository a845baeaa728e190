/**
 * Entry point of the JSON parse helper thread (started by ParsePool): parses each request with
 * parseRun and transfers the result back.
 */
import { parentPort } from 'node:worker_threads';
import { parseRun, type ParseRequest } from './parse-run.js';

if (parentPort) {
  const port = parentPort;
  port.on('message', (req: ParseRequest) => {
    const reply = parseRun(req);
    port.postMessage(reply, [reply.vectors.buffer, reply.starts.buffer, reply.bytes.buffer] as ArrayBuffer[]);
  });
}
