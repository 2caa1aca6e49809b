/**
 * keras.preprocessing.text: textToWordSequence, oneHot, hashingTrick and the
 * Tokenizer, with Keras 2.2's semantics (index 0 reserved, words ranked by
 * count with ties in first-seen order, the OOV token at index 1).
 */
import { createHash } from 'node:crypto';
import { Tensor } from '../tensor.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';

export const DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n';

export interface SplitArgs {
  readonly filters?: string;
  readonly lower?: boolean;
  readonly split?: string;
}

const SPLIT_OPTIONS = optionSpec<SplitArgs>({ filters: true, lower: true, split: true });
const HASHING_OPTIONS = optionSpec<SplitArgs & { hashFunction?: HashFunction }>({ filters: true, lower: true, split: true, hashFunction: true });

function checkText(text: unknown, what: string): string {
  if (typeof text !== 'string') throw new Error(`${what}: expected a string, got ${text === null ? 'null' : typeof text} ${JSON.stringify(text)}`);
  return text;
}

/** Lower-cases, turns every filter character into `split`, splits and drops empty words. */
export function textToWordSequence(text: string, options: KerasOptions<SplitArgs> = {}): string[] {
  const { filters = DEFAULT_FILTERS, lower = true, split = ' ' } = readOptions('textToWordSequence', options, SPLIT_OPTIONS);
  let s = checkText(text, 'textToWordSequence');
  if (lower) s = s.toLowerCase();
  const drop = new Set(filters);
  s = Array.from(s, (c) => (drop.has(c) ? split : c)).join('');
  return s.split(split).filter((w) => w.length > 0);
}

/**
 * Python's `hash` is salted per process, so Keras's default hash is not
 * reproducible across runs; Kiln's default is 32-bit FNV-1a over UTF-8,
 * stable across runs and machines. 'md5' matches Keras exactly.
 */
export type HashFunction = 'md5' | 'fnv1a' | ((word: string) => number | bigint);

function fnv1a(word: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(word, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}

/** Each word to an index in [1, n) by `hash(word) % (n - 1) + 1`, as keras hashing_trick. */
export function hashingTrick(text: string, n: number, options: KerasOptions<SplitArgs & { hashFunction?: HashFunction }> = {}): number[] {
  const args = readOptions('hashingTrick', options, HASHING_OPTIONS);
  if (!Number.isInteger(n) || n < 2) throw new Error(`hashingTrick: n must be an integer of at least 2, got ${n}`);
  const fn = args.hashFunction ?? 'fnv1a';
  const hash = fn === 'md5' ? (w: string) => BigInt(`0x${createHash('md5').update(w, 'utf8').digest('hex')}`) : fn === 'fnv1a' ? fnv1a : fn;
  return textToWordSequence(text, { filters: args.filters, lower: args.lower, split: args.split }).map((w) => {
    const h = hash(w);
    return typeof h === 'bigint' ? Number(((h % BigInt(n - 1)) + BigInt(n - 1)) % BigInt(n - 1)) + 1 : (((h % (n - 1)) + (n - 1)) % (n - 1)) + 1;
  });
}

/** hashingTrick with the default hash (keras one_hot). */
export function oneHot(text: string, n: number, options: KerasOptions<SplitArgs> = {}): number[] {
  return hashingTrick(text, n, readOptions('oneHot', options, SPLIT_OPTIONS));
}

export interface TokenizerArgs extends SplitArgs {
  readonly numWords?: number | null;
  readonly charLevel?: boolean;
  readonly oovToken?: string | null;
  readonly documentCount?: number;
}

const TOKENIZER_OPTIONS = optionSpec<TokenizerArgs>({ filters: true, lower: true, split: true, numWords: true, charLevel: true, oovToken: true, documentCount: true });

export type MatrixMode = 'binary' | 'count' | 'tfidf' | 'freq';

/** Keras's Tokenizer: a vocabulary ranked by frequency, and texts as index sequences or matrices. */
export class Tokenizer {
  readonly numWords: number | null;
  readonly filters: string;
  readonly lower: boolean;
  readonly split: string;
  readonly charLevel: boolean;
  readonly oovToken: string | null;
  documentCount: number;
  wordCounts = new Map<string, number>();
  wordDocs = new Map<string, number>();
  indexDocs = new Map<number, number>();
  wordIndex = new Map<string, number>();
  indexWord = new Map<number, string>();

  constructor(options: KerasOptions<TokenizerArgs> = {}) {
    const args = readOptions('Tokenizer', options, TOKENIZER_OPTIONS);
    this.numWords = args.numWords ?? null;
    this.filters = args.filters ?? DEFAULT_FILTERS;
    this.lower = args.lower ?? true;
    this.split = args.split ?? ' ';
    this.charLevel = args.charLevel ?? false;
    this.oovToken = args.oovToken ?? null;
    this.documentCount = args.documentCount ?? 0;
  }

  private words(text: string | readonly string[], where: string): string[] {
    if (Array.isArray(text)) return text.map((w, j) => (this.lower ? checkText(w, `${where}[${j}]`).toLowerCase() : checkText(w, `${where}[${j}]`)));
    const s = checkText(text, where);
    if (this.charLevel) return Array.from(this.lower ? s.toLowerCase() : s);
    return textToWordSequence(s, { filters: this.filters, lower: this.lower, split: this.split });
  }

  fitOnTexts(texts: readonly (string | readonly string[])[]): void {
    if (!Array.isArray(texts)) throw new Error(`Tokenizer.fitOnTexts: expected an array of strings, got ${typeof texts}`);
    texts.forEach((text, i) => {
      const seq = this.words(text, `Tokenizer.fitOnTexts: texts[${i}]`);
      this.documentCount++;
      for (const w of seq) this.wordCounts.set(w, (this.wordCounts.get(w) ?? 0) + 1);
      for (const w of new Set(seq)) this.wordDocs.set(w, (this.wordDocs.get(w) ?? 0) + 1);
    });
    const ranked = [...this.wordCounts].sort((a, b) => b[1] - a[1]).map(([w]) => w);
    const vocabulary = this.oovToken === null ? ranked : [this.oovToken, ...ranked];
    this.wordIndex = new Map(vocabulary.map((w, i) => [w, i + 1]));
    this.indexWord = new Map(vocabulary.map((w, i) => [i + 1, w]));
    this.indexDocs = new Map();
    for (const [w, c] of this.wordDocs) this.indexDocs.set(this.wordIndex.get(w)!, c);
  }

  /** Document frequencies from index sequences, for sequencesToMatrix's tfidf mode. */
  fitOnSequences(sequences: readonly (readonly number[])[]): void {
    this.documentCount += sequences.length;
    for (const seq of sequences) for (const i of new Set(seq)) this.indexDocs.set(i, (this.indexDocs.get(i) ?? 0) + 1);
  }

  textsToSequences(texts: readonly (string | readonly string[])[]): number[][] {
    const oov = this.oovToken === null ? undefined : this.wordIndex.get(this.oovToken);
    return texts.map((text, t) => {
      const out: number[] = [];
      for (const w of this.words(text, `Tokenizer.textsToSequences: texts[${t}]`)) {
        const i = this.wordIndex.get(w);
        if (i !== undefined && !(this.numWords && i >= this.numWords)) out.push(i);
        else if (oov !== undefined) out.push(oov);
      }
      return out;
    });
  }

  sequencesToTexts(sequences: readonly (readonly number[])[]): string[] {
    const oov = this.oovToken === null ? undefined : this.wordIndex.get(this.oovToken);
    return sequences.map((seq) => {
      const out: string[] = [];
      for (const num of seq) {
        const word = this.indexWord.get(num);
        if (word !== undefined && !(this.numWords && num >= this.numWords)) out.push(word);
        else if (oov !== undefined) out.push(this.indexWord.get(oov)!);
      }
      return out.join(' ');
    });
  }

  textsToMatrix(texts: readonly (string | readonly string[])[], mode: MatrixMode = 'binary'): Tensor {
    return this.sequencesToMatrix(this.textsToSequences(texts), mode);
  }

  /** One row per sequence, `numWords` columns (else the vocabulary size + 1). */
  sequencesToMatrix(sequences: readonly (readonly number[])[], mode: MatrixMode = 'binary'): Tensor {
    if (!['binary', 'count', 'tfidf', 'freq'].includes(mode)) throw new Error(`Tokenizer: unknown vectorization mode '${mode}'; use binary, count, tfidf or freq`);
    const width = this.numWords || (this.wordIndex.size ? this.wordIndex.size + 1 : 0);
    if (!width) throw new Error('Tokenizer: specify a dimension (numWords), or fit on some text data first');
    if (mode === 'tfidf' && !this.documentCount) throw new Error('Tokenizer: fit the Tokenizer on some data before using tfidf mode');
    const x = new Float32Array(sequences.length * width);
    sequences.forEach((seq, i) => {
      const counts = new Map<number, number>();
      for (const j of seq) if (j < width) counts.set(j, (counts.get(j) ?? 0) + 1);
      for (const [j, c] of counts) {
        const at = i * width + j;
        if (mode === 'count') x[at] = c;
        else if (mode === 'freq') x[at] = c / seq.length;
        else if (mode === 'binary') x[at] = 1;
        else x[at] = (1 + Math.log(c)) * Math.log(1 + this.documentCount / (1 + (this.indexDocs.get(j) ?? 0)));
      }
    });
    return new Tensor(x, [sequences.length, width]);
  }

  /** Keras's tokenizer JSON: the dictionaries are JSON strings inside the config, as Python writes them. */
  toJSON(): string {
    const dict = (m: Map<string | number, unknown>): string => JSON.stringify(Object.fromEntries(m));
    return JSON.stringify({
      class_name: 'Tokenizer',
      config: {
        num_words: this.numWords,
        filters: this.filters,
        lower: this.lower,
        split: this.split,
        char_level: this.charLevel,
        oov_token: this.oovToken,
        document_count: this.documentCount,
        word_counts: dict(this.wordCounts),
        word_docs: dict(this.wordDocs),
        index_docs: dict(this.indexDocs),
        index_word: dict(this.indexWord),
        word_index: dict(this.wordIndex),
      },
    });
  }
}

/** A Tokenizer from Keras's `tokenizer.to_json()` (or Kiln's toJSON). */
export function tokenizerFromJSON(json: string): Tokenizer {
  const parsed = JSON.parse(json) as { class_name?: string; config?: Record<string, unknown> };
  const c = parsed.config;
  if (!c || parsed.class_name !== 'Tokenizer') throw new Error(`tokenizerFromJSON: expected {"class_name": "Tokenizer", "config": ...}, got class_name ${JSON.stringify(parsed.class_name)}`);
  const dict = (key: string): [string, unknown][] => {
    if (typeof c[key] !== 'string') throw new Error(`tokenizerFromJSON: config.${key} must be a JSON string, got ${typeof c[key]}`);
    return Object.entries(JSON.parse(c[key] as string) as Record<string, unknown>);
  };
  const t = new Tokenizer({
    numWords: c.num_words as number | null,
    filters: c.filters as string,
    lower: c.lower as boolean,
    split: c.split as string,
    charLevel: c.char_level as boolean,
    oovToken: c.oov_token as string | null,
    documentCount: c.document_count as number,
  });
  t.wordCounts = new Map(dict('word_counts') as [string, number][]);
  t.wordDocs = new Map(dict('word_docs') as [string, number][]);
  t.indexDocs = new Map(dict('index_docs').map(([k, v]) => [Number(k), v as number]));
  t.indexWord = new Map(dict('index_word').map(([k, v]) => [Number(k), v as string]));
  t.wordIndex = new Map(dict('word_index') as [string, number][]);
  return t;
}
