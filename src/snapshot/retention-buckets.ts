/**
 * Time arithmetic for snapshot retention: UTC calendar buckets (hour, day, ISO week, month, year) and
 * the duration strings accepted by `keepWithin`. Everything here is UTC on purpose: local time would
 * make a daily bucket 23 or 25 hours long around a DST change and make the result depend on the
 * machine's time zone.
 */
import { QuiverError } from '../errors.js';

/** A calendar bucket kind used by the keepHourly .. keepYearly rules. */
export type BucketKind = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/**
 * Largest |createdAt| accepted: the Date range (±8.64e15 ms) minus a margin, so that the Thursday used to
 * find an ISO week-year is itself a valid Date.
 */
export const MAX_TIME = 8.64e15 - WEEK;

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

function pad(n: number, width: number): string {
  const s = String(Math.abs(n)).padStart(width, '0');
  return n < 0 ? `-${s}` : s;
}

/** Start of the UTC day (in days since 1970-01-01) of January 1st of `year`; avoids Date.UTC's 0-99 → 19xx quirk. */
function jan1Day(year: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, 0, 1);
  return Math.floor(d.getTime() / DAY);
}

/** ISO-8601 week: weeks start on Monday and belong to the year that holds their Thursday. */
function isoWeek(ms: number): { year: number; week: number; monday: number } {
  const day = Math.floor(ms / DAY);
  const weekday = mod(day + 3, 7); // 0 = Monday: 1970-01-01 (day 0) was a Thursday
  const monday = day - weekday;
  const thursday = monday + 3;
  const year = new Date(thursday * DAY).getUTCFullYear();
  const week = Math.floor((thursday - jan1Day(year)) / 7) + 1;
  return { year, week, monday };
}

/**
 * A number identifying the UTC bucket of `ms`: equal for two times in the same bucket, and never
 * increasing when time goes backwards (the retention walk relies on buckets being contiguous).
 */
export function bucketKey(kind: BucketKind, ms: number): number {
  switch (kind) {
    case 'hourly':
      return Math.floor(ms / HOUR);
    case 'daily':
      return Math.floor(ms / DAY);
    case 'weekly':
      return isoWeek(ms).monday;
    case 'monthly': {
      const d = new Date(ms);
      return d.getUTCFullYear() * 12 + d.getUTCMonth();
    }
    case 'yearly':
      return new Date(ms).getUTCFullYear();
  }
}

/** Human label of the UTC bucket of `ms`: `2026-11-24T13:00Z`, `2026-11-24`, `2026-W48`, `2026-11`, `2026`. */
export function bucketLabel(kind: BucketKind, ms: number): string {
  const d = new Date(ms);
  const y = pad(d.getUTCFullYear(), 4);
  const m = pad(d.getUTCMonth() + 1, 2);
  const day = pad(d.getUTCDate(), 2);
  switch (kind) {
    case 'hourly':
      return `${y}-${m}-${day}T${pad(d.getUTCHours(), 2)}:00Z`;
    case 'daily':
      return `${y}-${m}-${day}`;
    case 'weekly': {
      const w = isoWeek(ms);
      return `${pad(w.year, 4)}-W${pad(w.week, 2)}`;
    }
    case 'monthly':
      return `${y}-${m}`;
    case 'yearly':
      return y;
  }
}

// Largest first: a duration string must list its parts in this order, each at most once.
const UNITS: readonly (readonly [string, number])[] = [
  ['w', WEEK],
  ['d', DAY],
  ['h', HOUR],
  ['min', MINUTE],
  ['s', 1000],
  ['ms', 1],
];

// A part is digits then letters; the letters are checked against UNITS afterwards, so that "2days" is
// reported as an unknown unit "days" rather than as "2d" followed by junk.
const PART = /(\d+)([a-zA-Z]+)/y;
const FORMS = "write parts like '2d', '1w3d', '12h', '90min', '30s' or '500ms' (units w, d, h, min, s, ms, largest first)";

function badDuration(input: string, why: string): QuiverError {
  return new QuiverError('INVALID_ARGUMENT', `Invalid duration "${input}": ${why}; ${FORMS}.`, { duration: input });
}

function whyUnit(unit: string): string {
  if (unit === 'm' || unit === 'mo' || unit === 'M') return `"${unit}" is ambiguous (minutes or months?); use "min" for minutes, or days for months (30d)`;
  if (unit === 'y' || unit === 'Y') return 'years vary in length; use days (365d) or keepYearly';
  return `unknown unit "${unit}"`;
}

/** Explains the text at `rest`, where no digits-then-letters part starts. */
function whyNot(rest: string): string {
  if (/\s/.test(rest)) return 'spaces are not allowed inside a duration';
  if (/^\d*\.\d/.test(rest)) return 'fractions are not accepted (write 1h30min, not 1.5h)';
  if (/^\d+$/.test(rest)) return 'a number needs a unit (or pass keepWithin as a number of milliseconds)';
  return `unexpected "${rest}"`;
}

/**
 * Parses a duration such as `'2d'`, `'1w3d'`, `'12h'`, `'90min'` into milliseconds. Units: `w` (7 days),
 * `d` (24 h), `h`, `min`, `s`, `ms`; integers only, largest unit first, each unit once; surrounding
 * whitespace is ignored. `m`, `mo` and `y` are refused rather than guessed (restic reads `m` as months).
 * Bad input → QuiverError INVALID_ARGUMENT.
 */
export function parseDuration(s: string): number {
  if (typeof s !== 'string') {
    throw new QuiverError('INVALID_ARGUMENT', `A duration must be a string such as '2d', got ${typeof s}.`);
  }
  const text = s.trim();
  if (text === '') throw badDuration(s, 'it is empty');
  let total = 0;
  let pos = 0;
  let prevUnit = -1;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (m === null) throw badDuration(s, whyNot(text.slice(pos)));
    const unit = UNITS.findIndex(([name]) => name === m[2]);
    if (unit < 0) throw badDuration(s, whyUnit(m[2]));
    if (unit <= prevUnit) throw badDuration(s, `"${m[2]}" comes after a unit it may not follow`);
    prevUnit = unit;
    total += Number(m[1]) * UNITS[unit][1];
    pos = PART.lastIndex;
  }
  if (!Number.isSafeInteger(total)) throw badDuration(s, 'it is too long');
  return total;
}

/** Formats milliseconds in the form parseDuration reads, largest units first: 864000000 → `'1w3d'`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  let rest = ms;
  let out = '';
  for (const [name, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${name}`;
      rest -= n * size;
    }
  }
  return out;
}
