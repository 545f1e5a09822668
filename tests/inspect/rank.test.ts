import { Matrix, QrDecomposition } from "ml-matrix";
import { describe, expect, it } from "vitest";
import {
  denseSingularValues,
  lowRankSingularValues,
  spectrumEffectiveRank,
  spectrumStableRank,
  type DenseMatrix,
} from "../../src/inspect/index.js";

let x = 7;
const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31 - 0.5);
const randomMatrix = (rows: number, cols: number) => new Matrix(Array.from({ length: rows }, () => Array.from({ length: cols }, rand)));
const dense = (m: Matrix): DenseMatrix => ({ rows: m.rows, cols: m.columns, data: m.to1DArray() });
const orthonormal = (n: number, k: number) => new QrDecomposition(randomMatrix(n, k)).orthogonalMatrix.subMatrix(0, n - 1, 0, k - 1);

describe("denseSingularValues on U diag(s) V^T with known s", () => {
  const s = [5, 3, 2, 0.5, 0.1];
  const U = orthonormal(40, 5);
  const V = orthonormal(30, 5);
  const M = U.mmul(Matrix.diag(s)).mmul(V.transpose());
  it("recovers s, then zeros", () => {
    const got = denseSingularValues(dense(M));
    expect(got).toHaveLength(30);
    s.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 9));
    for (const v of got.slice(5)) expect(v).toBeLessThan(1e-9);
  });
  it("stable rank equals sum s^2 / max^2 and effective rank exp(H(s / sum s)), computed from s directly", () => {
    const got = denseSingularValues(dense(M));
    const stable = (25 + 9 + 4 + 0.25 + 0.01) / 25;
    const total = 10.6;
    const H = -s.reduce((h, v) => h + (v / total) * Math.log(v / total), 0);
    expect(spectrumStableRank(got)).toBeCloseTo(stable, 9);
    expect(spectrumEffectiveRank(got)).toBeCloseTo(Math.exp(H), 7);
  });
  it("effective rank of k equal singular values is k; of a zero matrix 0", () => {
    expect(spectrumEffectiveRank([2, 2, 2, 2])).toBeCloseTo(4, 12);
    expect(spectrumStableRank([2, 2, 2, 2])).toBeCloseTo(4, 12);
    expect(spectrumEffectiveRank([0, 0])).toBe(0);
    expect(spectrumStableRank([0, 0])).toBe(0);
  });
});

describe("denseSingularValues on random matrices", () => {
  it("sum of s^2 equals ||M||_F^2 and s_max equals the power-iteration norm (wide and tall)", () => {
    for (const [r, c] of [
      [12, 20],
      [20, 12],
    ] as const) {
      const M = randomMatrix(r, c);
      const s = denseSingularValues(dense(M));
      expect(s.reduce((a, v) => a + v * v, 0)).toBeCloseTo(M.norm("frobenius") ** 2, 9);
      let v = Matrix.ones(c, 1);
      for (let i = 0; i < 500; i++) {
        v = M.transpose().mmul(M.mmul(v));
        v = v.div(v.norm("frobenius"));
      }
      expect(s[0]).toBeCloseTo(M.mmul(v).norm("frobenius"), 8);
    }
  });
});

describe("lowRankSingularValues(B, A, scaling)", () => {
  it("agrees with the dense SVD of scaling * B A to 1e-4 relative", () => {
    const B = randomMatrix(96, 8);
    const A = randomMatrix(8, 64);
    const lowRank = lowRankSingularValues(dense(B), dense(A), 2.5);
    const ref = denseSingularValues(dense(B.mmul(A).mul(2.5)));
    expect(lowRank).toHaveLength(8);
    lowRank.forEach((v, i) => expect(Math.abs(v - ref[i]) / ref[0]).toBeLessThan(1e-4));
  });
  it("names the shapes when B's columns differ from A's rows", () => {
    expect(() => lowRankSingularValues(dense(randomMatrix(4, 2)), dense(randomMatrix(3, 5)))).toThrow(
      /lora_B is \[4, 2\] and lora_A is \[3, 5\]/,
    );
  });
});
