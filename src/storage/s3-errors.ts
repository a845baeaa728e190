/**
 * Turns what the AWS SDK throws into QuiverErrors with the store's stable codes, so that snapshot code,
 * the retry wrapper and callers treat an object store like every other store: a missing object is
 * NOT_FOUND, refused credentials EACCES, a missing bucket or one in another region INVALID_ARGUMENT
 * (retrying cannot help), an aborted call ABORTED, and everything the network or the service failed at
 * (after the SDK's own retries) IO_ERROR, which the retry wrapper treats as transient.
 */
import { QuiverError } from '../errors.js';

/** What the SDK's errors carry that the mapping reads. */
interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

const MISSING = new Set(['NoSuchKey', 'NotFound']);
const DENIED = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AllAccessDisabled', 'AccountProblem', 'InvalidToken', 'ExpiredToken']);
const NOT_SUPPORTED = new Set(['NotImplemented', 'MethodNotAllowed']);
/** Answers no retry can change: the client's region or endpoint, or the bucket's name, is wrong. */
const MISADDRESSED = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException', 'InvalidBucketName']);

function shape(err: unknown): SdkErrorShape {
  return err !== null && typeof err === 'object' ? (err as SdkErrorShape) : {};
}

/** The S3 error code (`NoSuchKey`, `AccessDenied`, ...) or the network code (`ECONNREFUSED`) of `err`. */
export function s3CodeOf(err: unknown): string | undefined {
  const e = shape(err);
  if (typeof e.Code === 'string') return e.Code;
  if (typeof e.code === 'string') return e.code;
  if (typeof e.name === 'string' && e.name !== 'Error') return e.name;
  return undefined;
}

/** The HTTP status of the response that failed, when there was one. */
export function httpStatusOf(err: unknown): number | undefined {
  const s = shape(err).$metadata?.httpStatusCode;
  return typeof s === 'number' ? s : undefined;
}

/** A 404 that is not about the bucket: HEAD answers carry no code, so the status alone must tell. */
function isNotFoundBelowBucket(err: unknown): boolean {
  return httpStatusOf(err) === 404 && s3CodeOf(err) !== 'NoSuchBucket';
}

/** True when `err` says the object is not there. */
export function isMissingObject(err: unknown): boolean {
  const code = s3CodeOf(err);
  return (code !== undefined && MISSING.has(code)) || (isNotFoundBelowBucket(err) && code !== 'NoSuchUpload');
}

/** True when `err` says a multipart upload is gone (completed or aborted by someone else). */
export function isGoneUpload(err: unknown): boolean {
  return s3CodeOf(err) === 'NoSuchUpload' || isNotFoundBelowBucket(err);
}

/** True when the service does not implement the call (some S3-compatible servers lack multipart listing). */
export function isNotSupported(err: unknown): boolean {
  const code = s3CodeOf(err);
  return (code !== undefined && NOT_SUPPORTED.has(code)) || httpStatusOf(err) === 501;
}

/**
 * The QuiverError for `err`, thrown by operation `op` on the object (or prefix) at `where`. QuiverErrors
 * pass through unchanged; `signal` turns any failure after an abort into ABORTED.
 */
export function s3Error(err: unknown, op: string, where: string, signal?: AbortSignal): QuiverError {
  if (err instanceof QuiverError) return err;
  const code = s3CodeOf(err);
  const status = httpStatusOf(err);
  const details = { op, where, s3Code: code, httpStatus: status };
  const said = err instanceof Error ? err.message : String(err);
  // Only the caller's own signal makes a failure an abort: a request cancelled for another reason (a part
  // stopped because another part failed) is reported by that reason, which comes first.
  if (signal?.aborted) return new QuiverError('ABORTED', `${op} ${where} was aborted; nothing was changed`, details, { cause: err });
  if (code === 'NoSuchBucket') {
    return new QuiverError('INVALID_ARGUMENT', `${op} ${where} failed: the bucket does not exist. Create it, or pass the bucket that holds the snapshots.`, details, { cause: err });
  }
  if (code !== undefined && MISADDRESSED.has(code)) {
    return new QuiverError('INVALID_ARGUMENT', `${op} ${where} failed (${code}): the bucket is not where the client looks for it; set the client's region (or endpoint) to the bucket's, and check the bucket name.`, details, { cause: err });
  }
  if (isMissingObject(err)) return new QuiverError('NOT_FOUND', `${where}: no such object`, details, { cause: err });
  if ((code !== undefined && DENIED.has(code)) || status === 403) {
    return new QuiverError('EACCES', `${op} ${where} was refused (${code ?? `HTTP ${status}`}): check the credentials and the bucket policy.`, details, { cause: err });
  }
  return new QuiverError('IO_ERROR', `${op} ${where} failed${code ? ` (${code}${status ? `, HTTP ${status}` : ''})` : ''}: ${said}`, details, { cause: err });
}
