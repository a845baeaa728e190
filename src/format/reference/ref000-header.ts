/**
 * The small members of a reference-000 state (`version`, `options`, `stats`, `metadata`) and what
 * they say about the collection: dimension, metric, count. docs/FORMAT.md lists the rules.
 */
import { CorruptionError, QuiverError } from '../../errors.js';
import type { Metric } from '../../engine/types.js';
import { isPlainObject } from '../../util/msgpack.js';
import { MAX_DIMENSION } from '../json/entry-parser.js';

/** Metric spellings of the reference systems (ruvector's `'cosine'`, its core's `'Cosine'`, `'DotProduct'`, ...), compared without case and separators. */
const METRIC_NAMES: Record<string, Metric> = {
  cosine: 'cosine',
  euclidean: 'euclidean',
  l2: 'euclidean',
  dot: 'dot',
  dotproduct: 'dot',
  innerproduct: 'dot',
  ip: 'dot',
  manhattan: 'manhattan',
  l1: 'manhattan',
};

/** Maps a reference metric spelling to ours; undefined when it names none of them. */
export function mapReferenceMetric(name: string): Metric | undefined {
  return METRIC_NAMES[name.toLowerCase().replace(/[^a-z0-9]/g, '')];
}

function objectMember(members: Map<string, unknown>, name: string, file: string): Record<string, unknown> | undefined {
  const v = members.get(name);
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) throw new CorruptionError({ file, section: name }, `"${name}" must be an object`);
  return v;
}

/** What the header members declare (each undefined when the file does not say). */
export interface Reference000Header {
  dimension: number | undefined;
  metric: Metric | undefined;
  count: number | undefined;
  /** The state's free-form `metadata` member ({} when absent). */
  user: Record<string, unknown>;
}

/**
 * Reads dimension, metric and count from `options` and `stats` (the reference writes both; they
 * must agree when both are present) and checks `version` (1.x only).
 */
export function readReference000Header(members: Map<string, unknown>, file: string): Reference000Header {
  const version = members.get('version');
  if (typeof version !== 'string' && typeof version !== 'number') throw new CorruptionError({ file, section: 'version' }, 'it must be a version string such as "1.0.0"');
  const major = Number(String(version).split('.')[0]);
  if (major !== 1) {
    throw new QuiverError('UNSUPPORTED_VERSION', `${file} is a reference DatabasePersistence state of version ${JSON.stringify(version)}; QuiverDB reads version 1.x of that layout.`, { file, version });
  }
  const options = objectMember(members, 'options', file);
  const stats = objectMember(members, 'stats', file);
  const dims: [string, unknown][] = [
    ['options.dimension', options?.dimension],
    ['options.dimensions', options?.dimensions],
    ['stats.dimension', stats?.dimension],
  ];
  let dimension: number | undefined;
  let dimFrom = '';
  for (const [where, d] of dims) {
    if (d === undefined || d === null) continue;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > MAX_DIMENSION) throw new CorruptionError({ file, section: where }, `it must be an integer in 1..${MAX_DIMENSION}`);
    if (dimension !== undefined && d !== dimension) throw new CorruptionError({ file, section: where }, `it says ${d} but ${dimFrom} says ${dimension} (dimension mismatch)`);
    dimension = d;
    dimFrom = where;
  }
  let metric: Metric | undefined;
  for (const [where, m] of [['options.metric', options?.metric], ['options.distanceMetric', options?.distanceMetric], ['stats.metric', stats?.metric]] as [string, unknown][]) {
    if (m === undefined || m === null) continue;
    const mapped = typeof m === 'string' ? mapReferenceMetric(m) : undefined;
    if (!mapped) {
      throw new QuiverError('UNSUPPORTED_FORMAT', `${file}: ${where} is ${JSON.stringify(m)}; QuiverDB supports the metrics cosine, euclidean, dot and manhattan.`, { file, section: where });
    }
    metric ??= mapped;
  }
  const count = stats?.count;
  if (count !== undefined && (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0)) {
    throw new CorruptionError({ file, section: 'stats.count' }, 'it must be a non-negative integer');
  }
  const meta = members.get('metadata');
  const user = isPlainObject(meta) ? meta : {};
  return { dimension, metric, count: count as number | undefined, user };
}
