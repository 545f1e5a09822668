/**
 * Top-r singular triplets of a matrix (for PiSSA init), by subspace iteration (tfjs matmul, Gram-Schmidt) and a
 * Jacobi eigensolver (float64) on the small projected matrix. TensorFlow.js has no SVD.
 */
import * as tf from "@tensorflow/tfjs";

type Mat = Float64Array[]; // rows

function matFromTensor(t: tf.Tensor): Mat {
  const [m, n] = t.shape as [number, number];
  const d = t.dataSync();
  return Array.from({ length: m }, (_, i) => Float64Array.from(d.subarray(i * n, (i + 1) * n)));
}

/** Orthonormal columns of a row-major [n, k] matrix by modified Gram-Schmidt in float64. */
function orthonormalize(t: tf.Tensor): tf.Tensor2D {
  const [n, k] = t.shape as [number, number];
  const d = t.dataSync();
  const cols = Array.from({ length: k }, (_, j) => Float64Array.from({ length: n }, (_, i) => d[i * k + j]));
  for (let j = 0; j < k; j++) {
    for (let i = 0; i < j; i++) {
      let dot = 0;
      for (let x = 0; x < n; x++) dot += cols[i][x] * cols[j][x];
      for (let x = 0; x < n; x++) cols[j][x] -= dot * cols[i][x];
    }
    let norm = 0;
    for (let x = 0; x < n; x++) norm += cols[j][x] ** 2;
    norm = Math.sqrt(norm) || 1;
    for (let x = 0; x < n; x++) cols[j][x] /= norm;
  }
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[i * k + j] = cols[j][i];
  return tf.tensor2d(out, [n, k]);
}

/** Eigenvalues and eigenvectors (columns) of a small symmetric matrix by cyclic Jacobi. */
function jacobiEigen(sym: Mat): { values: number[]; vectors: Mat } {
  const n = sym.length;
  const a = sym.map((r) => Float64Array.from(r));
  const v = Array.from({ length: n }, (_, i) => Float64Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p][q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k][p],
            akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p][k],
            aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p],
            vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: a.map((row, i) => row[i]), vectors: v };
}

/** W ~ U diag(s) V^T restricted to the r largest singular values: u [m, r], s (descending), v [n, r]. */
export function topSingularTriplets(w: tf.Tensor, r: number, iterations = 40): { u: tf.Tensor2D; s: number[]; v: tf.Tensor2D } {
  const [m, n] = w.shape as [number, number];
  if (r > Math.min(m, n)) throw new Error(`cannot take ${r} singular values of a [${m}, ${n}] matrix`);
  const k = Math.min(n, m, r + 8);
  const W = w as tf.Tensor2D;
  // Deterministic start: PiSSA's result must not depend on the global seed.
  const start = Float32Array.from({ length: n * k }, (_, i) => Math.sin(1 + i * 12.9898));
  const s0 = tf.tensor2d(start, [n, k]);
  let q = orthonormalize(s0); // [n, k]
  s0.dispose();
  for (let it = 0; it < iterations; it++) {
    const z = tf.tidy(() => tf.matMul(W, tf.matMul(W, q), true, false)); // W^T W q
    q.dispose();
    q = orthonormalize(z);
    z.dispose();
  }
  const b = tf.matMul(W, q); // [m, k]
  const gram = tf.matMul(b, b, true, false);
  const { values, vectors } = jacobiEigen(matFromTensor(gram));
  const order = values
    .map((_, i) => i)
    .sort((x, y) => values[y] - values[x])
    .slice(0, r);
  const s = order.map((i) => Math.sqrt(Math.max(values[i], 0)));
  const pick = tf.tensor2d(Float32Array.from(vectors.flatMap((row) => order.map((i) => row[i]))), [k, r]);
  const v = tf.matMul(q, pick) as tf.Tensor2D; // [n, r]
  const u = tf.tidy(() => tf.matMul(W, v).div(tf.tensor1d(s.map((x) => x || 1)))) as tf.Tensor2D; // [m, r]
  tf.dispose([q, b, gram, pick]);
  return { u, s, v };
}
