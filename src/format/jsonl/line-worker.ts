/**
 * Entry point of the JSONL parse helper thread (started by LinePool): parses each request with
 * parseLineRun and transfers the result back.
 */
import { serveRequests } from '../../util/request-thread.js';
import { parseLineRun } from './line-run.js';

serveRequests(parseLineRun, (reply) => [reply.vectors.buffer, reply.lineOf.buffer, reply.startOf.buffer]);
