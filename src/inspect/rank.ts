import { Matrix, QrDecomposition, SingularValueDecomposition } from "ml-matrix";

/** A row-major matrix as plain data: `data.length === rows * cols`. */
export interface DenseMatrix {
  rows: number;
  cols: number;
  data: ArrayLike<number>;
}

function toMatrix(m: DenseMatrix): Matrix {
  if (m.data.length !== m.rows * m.cols) {
    throw new Error(`matrix data has ${m.data.length} values; expected rows * cols = ${m.rows} * ${m.cols} = ${m.rows * m.cols}`);
  }
  const out = new Matrix(m.rows, m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out.set(i, j, m.data[i * m.cols + j]);
  return out;
}

function svdValues(m: Matrix): number[] {
  const svd = new SingularValueDecomposition(m, { computeLeftSingularVectors: false, computeRightSingularVectors: false, autoTranspose: true });
  return [...svd.diagonal].map(Math.abs).sort((a, b) => b - a);
}

/** Singular values of a dense matrix, largest first (ml-matrix's one-sided Jacobi/Golub-Kahan SVD). */
export function denseSingularValues(m: DenseMatrix): number[] {
  return svdValues(toMatrix(m));
}

/**
 * Singular values of scaling * B A without forming it: B = Q_B R_B, A^T = Q_A R_A, so
 * B A = Q_B (R_B R_A^T) Q_A^T and the r x r core has the same spectrum. B is [out, r], A is [r, in].
 */
export function lowRankSingularValues(B: DenseMatrix, A: DenseMatrix, scaling = 1): number[] {
  if (B.cols !== A.rows) throw new Error(`lora_B is [${B.rows}, ${B.cols}] and lora_A is [${A.rows}, ${A.cols}]; expected B's columns to equal A's rows (the rank r)`);
  const rB = new QrDecomposition(toMatrix(B)).upperTriangularMatrix;
  const rA = new QrDecomposition(toMatrix(A).transpose()).upperTriangularMatrix;
  return svdValues(rB.mmul(rA.transpose()).mul(scaling));
}

/** ||M||_F^2 / sigma_max^2 from the singular values; 0 for a zero matrix. */
export function spectrumStableRank(s: readonly number[]): number {
  const max = Math.max(0, ...s.map(Math.abs));
  if (max === 0) return 0;
  return s.reduce((acc, v) => acc + v * v, 0) / (max * max);
}

/** Roy & Vetterli (2007): exp(-sum p_i log p_i) with p_i = s_i / sum s; 0 for a zero matrix. */
export function spectrumEffectiveRank(s: readonly number[]): number {
  const total = s.reduce((acc, v) => acc + Math.abs(v), 0);
  if (total === 0) return 0;
  let h = 0;
  for (const v of s) {
    const p = Math.abs(v) / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/** Frobenius norm from the singular values. */
export function spectrumFrobeniusNorm(s: readonly number[]): number {
  return Math.sqrt(s.reduce((acc, v) => acc + v * v, 0));
}
