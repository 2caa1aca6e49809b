/**
 * `npm run demo -- --model addition_rnn`: the Keras addition_rnn example
 * (examples/addition_rnn.py) on generated data: 5,000 distinct questions
 * "a+b" with a and b of up to two digits, padded with spaces and reversed
 * (as the example does), one-hot over '0123456789+ '; an LSTM encoder of 128
 * units, RepeatVector(3), an LSTM decoder of 128 units with
 * return_sequences, TimeDistributed(Dense(12, softmax)); Adam, batch 128,
 * 10% held out. Trains one epoch at a time until the held-out per-character
 * accuracy reaches 0.99 (as the example documents) or --epochs runs out,
 * then prints a few decoded answers.
 */
import { Sequential, Tensor, layers, tensor } from '../src/index.js';
import type { BackendName } from '../runtime/executor.js';

const DIGITS = 2;
const MAXLEN = DIGITS + 1 + DIGITS;
const CHARS = '0123456789+ ';
const QUESTIONS = 5000;

/** A small seeded generator (mulberry32), so every run sees the same questions. */
function generator(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function questions(): { q: string[]; a: string[] } {
  const rand = generator(7);
  const number = (): number => Math.floor(rand() * 10 ** (1 + Math.floor(rand() * DIGITS)));
  const seen = new Set<string>();
  const q: string[] = [];
  const a: string[] = [];
  while (q.length < QUESTIONS) {
    const [x, y] = [number(), number()];
    const key = [x, y].sort((m, n) => m - n).join('+');
    if (seen.has(key)) continue;
    seen.add(key);
    q.push([...`${x}+${y}`.padEnd(MAXLEN)].reverse().join(''));
    a.push(String(x + y).padEnd(DIGITS + 1));
  }
  return { q, a };
}

function oneHot(texts: readonly string[], length: number): Tensor {
  const out = new Float32Array(texts.length * length * CHARS.length);
  texts.forEach((t, i) => [...t].forEach((c, j) => (out[(i * length + j) * CHARS.length + CHARS.indexOf(c)] = 1)));
  return tensor(out, [texts.length, length, CHARS.length]);
}

function decode(probs: Tensor, row: number): string {
  let s = '';
  for (let j = 0; j < DIGITS + 1; j++) {
    const at = (row * (DIGITS + 1) + j) * CHARS.length;
    let best = 0;
    for (let c = 1; c < CHARS.length; c++) if (probs.data[at + c] > probs.data[at + best]) best = c;
    s += CHARS[best];
  }
  return s;
}

/** The example's model: questions of MAXLEN one-hot characters in, DIGITS + 1 characters out (also built by bench/compile.ts). */
export function additionRnnModel(): Sequential {
  return new Sequential([
    new layers.LSTM(128, { inputShape: [MAXLEN, CHARS.length] }),
    new layers.RepeatVector(DIGITS + 1),
    new layers.LSTM(128, { returnSequences: true }),
    new layers.TimeDistributed(new layers.Dense(CHARS.length, { activation: 'softmax' })),
  ]);
}

export async function additionRnn(backend: BackendName, maxEpochs: number): Promise<void> {
  const { q, a } = questions();
  const split = Math.floor(QUESTIONS * 0.9);
  const [x, y] = [oneHot(q.slice(0, split), MAXLEN), oneHot(a.slice(0, split), DIGITS + 1)];
  const [xVal, yVal] = [oneHot(q.slice(split), MAXLEN), oneHot(a.slice(split), DIGITS + 1)];
  const model = additionRnnModel();
  model.summary();
  model.compile({ loss: 'categorical_crossentropy', optimizer: 'adam', metrics: ['accuracy'], backend });
  const start = performance.now();
  let accuracy = 0;
  let epoch = 0;
  while (epoch < maxEpochs && accuracy < 0.99) {
    const history = await model.fit(x, y, { batchSize: 128, epochs: 1, verbose: 0, validationData: [xVal, yVal] });
    accuracy = (history.history.val_accuracy ?? history.history.val_acc)[0];
    epoch++;
    if (epoch % 5 === 0 || accuracy >= 0.99) console.log(`epoch ${epoch}: loss ${history.history.loss[0].toFixed(4)}, val_accuracy ${accuracy.toFixed(4)} (${((performance.now() - start) / 1000).toFixed(1)} s)`);
  }
  console.log(`${accuracy >= 0.99 ? 'Reached' : 'Stopped below'} 0.99 held-out accuracy after ${epoch} epochs, ${((performance.now() - start) / 1000).toFixed(1)} s`);
  const probs = await model.predict(xVal);
  for (let i = 0; i < 8; i++) {
    const question = [...q[split + i]].reverse().join('').trim();
    const guess = decode(probs, i);
    console.log(`Q ${question.padEnd(MAXLEN)} T ${a[split + i]} ${guess === a[split + i] ? '☑' : '☒'} ${guess}`);
  }
  model.dispose();
}
