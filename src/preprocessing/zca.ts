/**
 * ZCA whitening matrix, as ImageDataGenerator.fit computes it: the
 * covariance of the flattened samples, U diag(1 / sqrt(s + eps)) U^T from
 * its eigendecomposition (the SVD of a symmetric PSD matrix), by cyclic
 * Jacobi rotations in float64. Cost grows as d^3 for d = h * w * c.
 */
export function zcaMatrix(flat: Float64Array, n: number, d: number, epsilon: number): Float32Array {
  const a = new Float64Array(d * d);
  for (let s = 0; s < n; s++) {
    const row = flat.subarray(s * d, (s + 1) * d);
    for (let i = 0; i < d; i++) {
      const v = row[i];
      if (v === 0) continue;
      for (let j = i; j < d; j++) a[i * d + j] += v * row[j];
    }
  }
  for (let i = 0; i < d; i++) for (let j = i; j < d; j++) a[j * d + i] = a[i * d + j] /= n;
  const u = new Float64Array(d * d);
  for (let i = 0; i < d; i++) u[i * d + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) off += a[i * d + j] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p];
          const akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k];
          const aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const ukp = u[k * d + p];
          const ukq = u[k * d + q];
          u[k * d + p] = c * ukp - s * ukq;
          u[k * d + q] = s * ukp + c * ukq;
        }
      }
    }
  }
  const scale = Float64Array.from({ length: d }, (_, i) => 1 / Math.sqrt(Math.max(a[i * d + i], 0) + epsilon));
  const out = new Float32Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += u[i * d + k] * scale[k] * u[j * d + k];
      out[i * d + j] = s;
    }
  }
  return out;
}
