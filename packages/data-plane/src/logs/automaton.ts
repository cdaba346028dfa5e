/**
 * Literal patterns found in a stream of text in one pass (Aho-Corasick), ASCII letters
 * matched whatever their case: one step per character however many patterns there are,
 * and a text fed in pieces is searched as if it came whole.
 *
 * States are numbered breadth first (root 0), so a state's fallback (the longest proper
 * suffix of its text that is also a pattern prefix) always has a smaller number. The
 * root and the states one character deep, where a scan spends most of its time, have a
 * full row of next states; deeper ones (mostly a single way on) list their edges and fall
 * back when a character is not among them.
 */
export class PatternSet {
  /** The longest pattern: a scan never needs to look further back than this. */
  readonly longest: number;
  /** Character (UTF-16 code unit) -> class; 0 for one no pattern holds. */
  readonly #classOf: Uint16Array;
  readonly #classes: number;
  /** States 0..#lastDense have a full row of next states in #dense. */
  readonly #lastDense: number;
  readonly #dense: Int32Array;
  /** Edges of state s: #edgeClass/#edgeTarget[#firstEdge[s] .. #firstEdge[s + 1]). */
  readonly #firstEdge: Int32Array;
  readonly #edgeClass: Uint16Array;
  readonly #edgeTarget: Int32Array;
  readonly #fail: Int32Array;
  /** How many characters a state stands for. */
  readonly #depth: Int32Array;
  /** The longest pattern that ends at a state (itself or a suffix of it); 0 when none does. */
  readonly #match: Int32Array;

  constructor(patterns: Iterable<string>) {
    const classOf = new Uint16Array(65536);
    let classes = 1;
    const classFor = (code: number): number => {
      const folded = code >= 65 && code <= 90 ? code + 32 : code;
      let c = classOf[folded] as number;
      if (c === 0) {
        if (classes === 65536) throw new RangeError('too many distinct characters in the patterns');
        c = classes++;
        classOf[folded] = c;
        if (folded !== code) classOf[code] = c;
        else if (code >= 97 && code <= 122) classOf[code - 32] = c;
      }
      return c;
    };

    // The trie: each state's edges as a list of siblings, the root's in a row by class.
    const list = [...patterns].filter((pattern) => pattern.length > 0);
    const most = list.reduce((sum, pattern) => sum + pattern.length, 1);
    const firstChild = new Int32Array(most).fill(-1);
    const nextSibling = new Int32Array(most).fill(-1);
    const label = new Uint16Array(most);
    const ends = new Int32Array(most);
    const rootChild = new Int32Array(Math.min(65536, most)).fill(-1);
    let count = 1;
    let longest = 0;
    for (const pattern of list) {
      let state = 0;
      for (let i = 0; i < pattern.length; i++) {
        const c = classFor(pattern.charCodeAt(i));
        let next = state === 0 ? (rootChild[c] as number) : (firstChild[state] as number);
        if (state !== 0) while (next >= 0 && label[next] !== c) next = nextSibling[next] as number;
        if (next < 0) {
          next = count++;
          label[next] = c;
          nextSibling[next] = firstChild[state] as number;
          firstChild[state] = next;
          if (state === 0) rootChild[c] = next;
        }
        state = next;
      }
      ends[state] = pattern.length;
      longest = Math.max(longest, pattern.length);
    }

    // Breadth first: new numbers in that order, each state's edges, depths, fallbacks and matches.
    const order = new Int32Array(count);
    let queued = 1;
    const firstEdge = new Int32Array(count + 1);
    const edgeClass = new Uint16Array(count - 1);
    const edgeTarget = new Int32Array(count - 1);
    for (let s = 0; s < count; s++) {
      firstEdge[s] = queued - 1;
      for (let t = firstChild[order[s] as number] as number; t >= 0; t = nextSibling[t] as number) {
        edgeClass[queued - 1] = label[t] as number;
        order[queued++] = t;
      }
    }
    firstEdge[count] = count - 1;
    for (let e = 0; e < count - 1; e++) edgeTarget[e] = e + 1;
    const rootRow = new Int32Array(classes);
    for (let e = 0; e < (firstEdge[1] as number); e++) rootRow[edgeClass[e] as number] = edgeTarget[e] as number;
    const child = (s: number, c: number): number => {
      if (s === 0) return rootRow[c] === 0 ? -1 : (rootRow[c] as number);
      for (let e = firstEdge[s] as number; e < (firstEdge[s + 1] as number); e++) {
        if (edgeClass[e] === c) return edgeTarget[e] as number;
      }
      return -1;
    };
    const depth = new Int32Array(count);
    const fail = new Int32Array(count);
    const match = new Int32Array(count);
    for (let s = 0; s < count; s++) {
      for (let e = firstEdge[s] as number; e < (firstEdge[s + 1] as number); e++) {
        const c = edgeClass[e] as number;
        const t = edgeTarget[e] as number;
        depth[t] = (depth[s] as number) + 1;
        let to = 0;
        for (let f = s === 0 ? -1 : (fail[s] as number); f >= 0; f = f === 0 ? -1 : (fail[f] as number)) {
          const next = child(f, c);
          if (next >= 0) {
            to = next;
            break;
          }
        }
        fail[t] = to;
      }
      const own = ends[order[s] as number] as number;
      match[s] = own > 0 ? own : s === 0 ? 0 : (match[fail[s] as number] as number);
    }

    // Full rows for the root and the states one character deep, unless there are too many.
    let lastDense = 0;
    while (lastDense + 1 < count && depth[lastDense + 1] === 1) lastDense++;
    if ((lastDense + 1) * classes > 1 << 20) lastDense = 0;
    const dense = new Int32Array((lastDense + 1) * classes);
    for (let s = 0; s <= lastDense; s++) {
      for (let c = 1; c < classes; c++) {
        const next = child(s, c);
        dense[s * classes + c] = next >= 0 ? next : s === 0 ? 0 : (dense[(fail[s] as number) * classes + c] as number);
      }
    }

    this.longest = longest;
    this.#classOf = classOf;
    this.#classes = classes;
    this.#lastDense = lastDense;
    this.#dense = dense;
    this.#firstEdge = firstEdge;
    this.#edgeClass = edgeClass;
    this.#edgeTarget = edgeTarget;
    this.#fail = fail;
    this.#depth = depth;
    this.#match = match;
  }

  /** How many of the characters read last may still begin a match, in state `state`. */
  depth(state: number): number {
    return this.#depth[state] as number;
  }

  /**
   * Reads `text` on from state `state` (0 at the start of a stream); calls `found(end,
   * length)` for the longest pattern ending at each position where one does (`end` is
   * the index just past it in `text`; the pattern may have begun in an earlier piece).
   * Returns the state to go on from with the next piece.
   */
  scan(text: string, state: number, found: (end: number, length: number) => void): number {
    const classOf = this.#classOf;
    const classes = this.#classes;
    const lastDense = this.#lastDense;
    const dense = this.#dense;
    const match = this.#match;
    let s = state;
    for (let i = 0; i < text.length; i++) {
      const c = classOf[text.charCodeAt(i)] as number;
      if (s <= lastDense) s = dense[s * classes + c] as number;
      else s = this.#deep(s, c);
      const length = match[s] as number;
      if (length > 0) found(i + 1, length);
    }
    return s;
  }

  /** The next state from a state with no full row: its own edge, else its fallback's (in the end one with a row). */
  #deep(state: number, c: number): number {
    const firstEdge = this.#firstEdge;
    const edgeClass = this.#edgeClass;
    let s = state;
    while (s > this.#lastDense) {
      for (let e = firstEdge[s] as number, last = firstEdge[s + 1] as number; e < last; e++) {
        if (edgeClass[e] === c) return this.#edgeTarget[e] as number;
      }
      s = this.#fail[s] as number;
    }
    return this.#dense[s * this.#classes + c] as number;
  }
}
