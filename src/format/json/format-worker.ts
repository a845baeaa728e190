/**
 * Entry point of a JSON format worker thread (started by FormatPool): formats each request with
 * formatChunk and transfers the result back.
 */
import { serveRequests } from '../../util/request-thread.js';
import { formatChunk, ownBuffers } from './format-chunk.js';

serveRequests(formatChunk, (reply) => ownBuffers([reply.text, reply.vectors, reply.parts, reply.cuts]));
