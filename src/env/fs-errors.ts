/**
 * Node-shaped file-system errors for the test file systems (memory and fault-injecting), so code
 * under test sees exactly what `node:fs` would throw: an Error with `code`, `errno`, `syscall`, `path`.
 */

/** The errno numbers Node reports on Linux (negative, as libuv does). */
const ERRNO: Record<string, [number, string]> = {
  EPERM: [-1, 'operation not permitted'],
  ENOENT: [-2, 'no such file or directory'],
  EIO: [-5, 'i/o error'],
  EBADF: [-9, 'bad file descriptor'],
  EACCES: [-13, 'permission denied'],
  EEXIST: [-17, 'file already exists'],
  EBUSY: [-16, 'resource busy or locked'],
  EXDEV: [-18, 'cross-device link not permitted'],
  ENOTDIR: [-20, 'not a directory'],
  EISDIR: [-21, 'illegal operation on a directory'],
  EINVAL: [-22, 'invalid argument'],
  EMFILE: [-24, 'too many open files'],
  ENOSPC: [-28, 'no space left on device'],
  EROFS: [-30, 'read-only file system'],
  ENOTEMPTY: [-39, 'directory not empty'],
};

/** An error as thrown by `node:fs`: `code`, `errno`, `syscall`, and `path` / `dest` when given. */
export interface NodeStyleError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
  dest?: string;
}

/**
 * Builds a Node-style error. `note` is appended to the description (used to mark injected faults)
 * so a failing test says where the error came from.
 */
export function fsError(code: string, syscall: string, path?: string, dest?: string, note?: string): NodeStyleError {
  const [errno, text] = ERRNO[code] ?? [-5, code.toLowerCase()];
  const desc = note ? `${text} (${note})` : text;
  let where = '';
  if (path !== undefined) where = dest !== undefined ? ` '${path}' -> '${dest}'` : ` '${path}'`;
  const err = new Error(`${code}: ${desc}, ${syscall}${where}`) as NodeStyleError;
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  if (dest !== undefined) err.dest = dest;
  return err;
}

/** True when `err` carries the given OS-style `code` (any error object, Node's or ours). */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
