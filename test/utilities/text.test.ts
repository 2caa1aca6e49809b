/** keras.preprocessing.text against Keras 2.2's semantics on a small corpus (indices and matrices written out by hand). */
import { describe, expect, it } from 'vitest';
import { Tokenizer, hashingTrick, oneHot, textToWordSequence, tokenizerFromJSON } from '../../src/preprocessing/text.js';

const TEXTS = ['The cat sat on the mat.', 'The dog sat on the log.', 'Dogs and cats living together.'];
// Counts: the 4, sat 2, on 2, then the count-1 words in first-seen order.
const INDEX = { the: 1, sat: 2, on: 3, cat: 4, mat: 5, dog: 6, log: 7, dogs: 8, and: 9, cats: 10, living: 11, together: 12 };

describe('text', () => {
  it('textToWordSequence filters punctuation, lowers and splits', () => {
    expect(textToWordSequence('hello! ? world!')).toEqual(['hello', 'world']);
    expect(textToWordSequence('hello!stop?world!', { split: 'stop' })).toEqual(['hello', 'world']);
    expect(textToWordSequence('Ab, CD', { lower: false, filters: ',' })).toEqual(['Ab', 'CD']);
  });

  it('hashingTrick with md5 gives int(md5(w).hexdigest(), 16) % (n - 1) + 1', () => {
    expect(hashingTrick('The cat sat on the mat.', 10, { hashFunction: 'md5' })).toEqual([6, 3, 1, 1, 6, 8]);
  });

  it('oneHot: one index in [1, n) per word, equal words equal indices, stable across calls', () => {
    const e = oneHot('The cat sat on the mat.', 5);
    expect(e.length).toBe(6);
    e.forEach((i) => expect(i >= 1 && i <= 4).toBe(true));
    expect(e[0]).toBe(e[4]);
    expect(oneHot('the cat', 1000)).toEqual(oneHot('THE cat!', 1000));
    expect(hashingTrick('a b', 7, { hashFunction: (w) => w.charCodeAt(0) })).toEqual([(97 % 6) + 1, (98 % 6) + 1]);
  });

  it('Tokenizer ranks words by count, ties in first-seen order, and keeps counts and documents', () => {
    const t = new Tokenizer({ numWords: 10 });
    t.fitOnTexts(TEXTS);
    expect(Object.fromEntries(t.wordIndex)).toEqual(INDEX);
    expect(t.documentCount).toBe(3);
    expect(t.wordCounts.get('the')).toBe(4);
    expect(t.wordDocs.get('the')).toBe(2);
    expect(t.indexDocs.get(4)).toBe(1);
    expect(t.indexWord.get(2)).toBe('sat');
    expect(t.textsToSequences(TEXTS)).toEqual([[1, 4, 2, 3, 1, 5], [1, 6, 2, 3, 1, 7], [8, 9]]);
    expect(t.sequencesToTexts([[1, 4, 2, 11, 3]])).toEqual(['the cat sat on']);
  });

  it('textsToMatrix in all four modes', () => {
    const t = new Tokenizer({ numWords: 10 });
    t.fitOnTexts(TEXTS);
    const rows = (mode: 'binary' | 'count' | 'freq' | 'tfidf'): number[][] => t.textsToMatrix(TEXTS, mode).toArray() as number[][];
    expect(rows('binary')).toEqual([[0, 1, 1, 1, 1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]]);
    expect(rows('count')).toEqual([[0, 2, 1, 1, 1, 1, 0, 0, 0, 0], [0, 2, 1, 1, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]]);
    const freq = rows('freq');
    expect(freq[0]).toBeAllClose([0, 2 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6, 0, 0, 0, 0], { atol: 1e-7 });
    expect(freq[2]).toBeAllClose([0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.5], { atol: 1e-7 });
    // tf = 1 + ln(count); idf = ln(1 + documents / (1 + documents holding the word)).
    const tfidf = rows('tfidf');
    expect(tfidf[0][1]).toBeCloseTo((1 + Math.log(2)) * Math.log(1 + 3 / 3), 6);
    expect(tfidf[0][4]).toBeCloseTo(Math.log(1 + 3 / 2), 6);
    expect(tfidf[0][6]).toBe(0);
    expect(t.textsToMatrix(TEXTS).shape).toEqual([3, 10]);
  });

  it('without numWords the matrix is vocabulary + 1 wide; fitOnSequences feeds tfidf', () => {
    const t = new Tokenizer();
    t.fitOnTexts(TEXTS);
    expect(t.textsToMatrix(TEXTS, 'count').shape).toEqual([3, 13]);
    const s = new Tokenizer({ numWords: 4 });
    s.fitOnSequences([[1, 2, 2], [2, 3]]);
    expect(s.documentCount).toBe(2);
    const m = s.sequencesToMatrix([[2, 2, 3, 9]], 'tfidf').toArray() as number[][];
    expect(m[0][2]).toBeCloseTo((1 + Math.log(2)) * Math.log(1 + 2 / 3), 6);
    expect(m[0][3]).toBeCloseTo(Math.log(1 + 2 / 2), 6);
  });

  it('oovToken takes index 1 and replaces unknown and out-of-range words (Keras test_tokenizer_oov_flag)', () => {
    const plain = new Tokenizer();
    plain.fitOnTexts(['This text has only known words']);
    expect(plain.textsToSequences(['This text has some unknown words'])[0].length).toBe(4);
    const t = new Tokenizer({ oovToken: '<unk>' });
    t.fitOnTexts(['This text has only known words']);
    expect(t.wordIndex.get('<unk>')).toBe(1);
    expect(t.textsToSequences(['This text has some unknown words'])).toEqual([[2, 3, 4, 1, 1, 7]]);
    expect(t.sequencesToTexts([[2, 3, 99]])).toEqual(['this text <unk>']);
    const capped = new Tokenizer({ oovToken: '<unk>', numWords: 4 });
    capped.fitOnTexts(['This text has only known words']);
    expect(capped.textsToSequences(['this words has'])).toEqual([[2, 1, 1]]);
  });

  it('charLevel and lists of words', () => {
    const t = new Tokenizer({ charLevel: true });
    t.fitOnTexts(['aAb', 'bc']);
    expect(Object.fromEntries(t.wordIndex)).toEqual({ a: 1, b: 2, c: 3 });
    expect(t.textsToSequences(['cab'])).toEqual([[3, 1, 2]]);
    const w = new Tokenizer();
    w.fitOnTexts([['New', 'York'], ['new', 'home']]);
    expect(Object.fromEntries(w.wordIndex)).toEqual({ new: 1, york: 2, home: 3 });
  });

  it('toJSON / tokenizerFromJSON round-trip, and read Keras-format JSON', () => {
    const t = new Tokenizer({ numWords: 10, oovToken: 'OOV' });
    t.fitOnTexts(TEXTS);
    const back = tokenizerFromJSON(t.toJSON());
    expect(back.textsToSequences(TEXTS)).toEqual(t.textsToSequences(TEXTS));
    expect(back.textsToMatrix(TEXTS, 'tfidf').data).toEqual(t.textsToMatrix(TEXTS, 'tfidf').data);
    expect(JSON.parse(t.toJSON()).config.num_words).toBe(10);
    // As Keras's tokenizer.to_json() writes it (json.dumps of each dictionary inside the config).
    const keras = '{"class_name": "Tokenizer", "config": {"num_words": null, "filters": "!\\"#$%&()*+,-./:;<=>?@[\\\\]^_`{|}~\\t\\n", "lower": true, "split": " ", "char_level": false, "oov_token": null, "document_count": 1, "word_counts": "{\\"hi\\": 2, \\"you\\": 1}", "word_docs": "{\\"hi\\": 1, \\"you\\": 1}", "index_docs": "{\\"1\\": 1, \\"2\\": 1}", "index_word": "{\\"1\\": \\"hi\\", \\"2\\": \\"you\\"}", "word_index": "{\\"hi\\": 1, \\"you\\": 2}"}}';
    const k = tokenizerFromJSON(keras);
    expect(k.textsToSequences(['you, hi!'])).toEqual([[2, 1]]);
    expect(k.sequencesToTexts([[1, 2]])).toEqual(['hi you']);
    expect(() => tokenizerFromJSON('{"class_name": "Model", "config": {}}')).toThrow(/class_name "Model"/);
  });

  it('non-strings are refused naming the text', () => {
    const t = new Tokenizer();
    expect(() => t.fitOnTexts(['ok', 42 as unknown as string])).toThrow(/texts\[1\]: expected a string, got number 42/);
    expect(() => t.textsToSequences([null as unknown as string])).toThrow(/texts\[0\]: expected a string, got null/);
    expect(() => t.sequencesToMatrix([[1]])).toThrow(/numWords/);
    expect(() => t.sequencesToMatrix([[1]], 'tf' as 'binary')).toThrow(/unknown vectorization mode 'tf'/);
    expect(() => hashingTrick('a', 1)).toThrow(/n must be an integer of at least 2, got 1/);
  });
});
