/** A worker for request-thread.test.ts: doubles `value`; a negative value throws (the thread fails). */
import { serveRequests } from '../../src/util/request-thread.js';

interface EchoRequest {
  seq: number;
  value: number;
  bytes?: Uint8Array;
}

serveRequests(
  (req: EchoRequest) => {
    if (req.value < 0) throw new Error(`cannot echo ${req.value}`);
    const bytes = new Uint8Array(req.bytes ?? [req.value]);
    return { seq: req.seq, value: req.value * 2, bytes };
  },
  (reply) => [reply.bytes.buffer],
);
