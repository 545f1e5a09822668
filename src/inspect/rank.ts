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
  const svd = new SingularValueDecomposition(m, {
    computeLeftSingularVectors: false,
    computeRightSingularVectors: false,
    autoTranspose: true,
  });
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
  if (B.cols !== A.rows)
    throw new Error(
      `lora_B is [${B.rows}, ${B.cols}] and lora_A is [${A.rows}, ${A.cols}]; expected B's columns to equal A's rows (the rank r)`,
    );
  const rB = new QrDecomposition(toMatrix(B)).upperTriangularMatrix;
  const rA = new QrDecomposition(toMatrix(A).transpose()).upperTriangularMatrix;
  return svdValues(rB.mmul(rA.transpose()).mul(scaling));
}

// The measures of a spectrum live in the leaf spectrum/ (plot uses them too); inspect's public names for them:
export {
  effectiveRank as spectrumEffectiveRank,
  frobeniusNorm as spectrumFrobeniusNorm,
  stableRank as spectrumStableRank,
} from "../spectrum/index.js";
