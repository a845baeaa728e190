/**
 * The subset of Python literal syntax an .npy header uses (numpy writes it with `repr` and reads it
 * with `ast.literal_eval`): dicts, tuples, lists, strings in single or double quotes, integers
 * (Python 2's `3L` too), True, False, None. Tuples and lists both become arrays.
 */

/** A parsed literal. */
export type PyValue = string | number | boolean | null | PyValue[] | Map<string | number, PyValue>;

/** The header text is not a literal this parser understands; `at` is the character index. */
export class PyLiteralError extends Error {
  constructor(readonly at: number, problem: string) {
    super(problem);
    this.name = 'PyLiteralError';
  }
}

const MAX_DEPTH = 32;

class Parser {
  private i = 0;

  constructor(private readonly s: string) {}

  parseAll(): PyValue {
    const v = this.value(0);
    this.ws();
    if (this.i < this.s.length) throw new PyLiteralError(this.i, 'unexpected text after the header dict');
    return v;
  }

  private ws(): void {
    while (this.i < this.s.length && ' \t\r\n'.includes(this.s[this.i])) this.i++;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_DEPTH) throw new PyLiteralError(this.i, 'the header is nested too deeply');
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.dict(depth);
    if (c === '(') return this.sequence(')', depth);
    if (c === '[') return this.sequence(']', depth);
    if (c === "'" || c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.integer();
    for (const [word, v] of [['True', true], ['False', false], ['None', null]] as [string, PyValue][]) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    throw new PyLiteralError(this.i, c === undefined ? 'the header ends early' : `unexpected ${JSON.stringify(c)}`);
  }

  private dict(depth: number): PyValue {
    const out = new Map<string | number, PyValue>();
    this.i++;
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      const keyAt = this.i;
      const key = this.value(depth + 1);
      if (typeof key !== 'string' && typeof key !== 'number') throw new PyLiteralError(keyAt, 'a dict key must be a string or an integer');
      if (out.has(key)) throw new PyLiteralError(keyAt, `the key ${JSON.stringify(key)} appears twice`);
      this.ws();
      if (this.s[this.i] !== ':') throw new PyLiteralError(this.i, 'expected ":" after a dict key');
      this.i++;
      out.set(key, this.value(depth + 1));
      if (!this.separator('}')) return out;
    }
  }

  private sequence(close: string, depth: number): PyValue {
    const out: PyValue[] = [];
    this.i++;
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      out.push(this.value(depth + 1));
      if (!this.separator(close)) return out;
    }
  }

  /** After an item: "," (true: more may follow) or the closing bracket (consumed; false). */
  private separator(close: string): boolean {
    this.ws();
    const c = this.s[this.i];
    if (c === ',') {
      this.i++;
      return true;
    }
    if (c === close) {
      this.i++;
      return false;
    }
    throw new PyLiteralError(this.i, `expected "," or "${close}"`);
  }

  private string(): string {
    const quote = this.s[this.i++];
    let out = '';
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined || c === '\n') throw new PyLiteralError(this.i, 'unterminated string');
      if (c === quote) return out;
      if (c === '\\') {
        const e = this.s[this.i++];
        const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', t: '\t', r: '\r', '0': '\0' };
        if (e === undefined || !(e in simple)) throw new PyLiteralError(this.i - 1, 'unsupported escape in string');
        out += simple[e];
      } else {
        out += c;
      }
    }
  }

  private integer(): number {
    const start = this.i;
    if (this.s[this.i] === '-') this.i++;
    const digitsAt = this.i;
    while (this.i < this.s.length && this.s[this.i] >= '0' && this.s[this.i] <= '9') this.i++;
    if (this.i === digitsAt) throw new PyLiteralError(start, 'expected digits');
    const text = this.s.slice(start, this.i);
    if (this.s[this.i] === 'L' || this.s[this.i] === 'l') this.i++;
    if (this.s[this.i] === '.' || this.s[this.i] === 'e' || this.s[this.i] === 'E') throw new PyLiteralError(this.i, 'only integers are expected in an .npy header');
    const v = Number(text);
    if (!Number.isSafeInteger(v)) throw new PyLiteralError(start, `the integer ${text} is too large`);
    return v;
  }
}

/** Parses a Python literal; throws PyLiteralError naming the character position. */
export function parsePyLiteral(text: string): PyValue {
  return new Parser(text).parseAll();
}
