/**
 * Entry point of the JSON parse helper thread (started by ParsePool): parses each request with
 * parseRun and transfers the result back.
 */
import { serveRequests } from '../../util/request-thread.js';
import { parseRun } from './parse-run.js';

serveRequests(parseRun, (reply) => [reply.vectors.buffer, reply.starts.buffer, reply.bytes.buffer]);
