import type { Module } from "../nn/index.js";
import { LoraLayer } from "../peft/index.js";
import { effectiveRank, frobeniusNorm, stableRank } from "../spectrum/index.js";
import { type DenseMatrix, denseSingularValues, lowRankSingularValues } from "./rank.js";

/** One layer's weight update. Shapes are the base weight's own layout (Conv1D: [in, out]); spectra do not depend on it. */
export interface UpdateRankRow {
  module: string;
  kind: "lora" | "full";
  /** Adapter name for LoRA rows. */
  adapter?: string;
  singularValues: number[];
  stableRank: number;
  effectiveRank: number;
  /** ||delta W||_F / ||W||_F (W: the current base weight for LoRA, the reference for full); NaN when W is 4-bit. */
  relativeNorm: number;
  /** LoRA r. */
  rank?: number;
}

/** Same shape as plot's PlotSpectrum, so rows feed rankSpectrumFigure without inspect importing plot. */
export interface UpdateSpectrum {
  layer: string;
  singularValues: readonly number[];
  stableRank?: number;
  effectiveRank?: number;
  loraRank?: number;
}

/** A copy of every 2-D parameter, as plain data (no tensors to dispose). */
export type WeightSnapshot = Map<string, DenseMatrix>;

function frob(data: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += data[i] * data[i];
  return Math.sqrt(s);
}

function row(module: string, kind: "lora" | "full", s: number[], weightNorm: number): UpdateRankRow {
  return {
    module,
    kind,
    singularValues: s,
    stableRank: stableRank(s),
    effectiveRank: effectiveRank(s),
    relativeNorm: frobeniusNorm(s) / weightNorm,
  };
}

export function snapshotWeights(model: Module): WeightSnapshot {
  const out: WeightSnapshot = new Map();
  for (const [name, p] of model.namedParameters()) {
    const v = p.variable;
    const [rows, cols] = v.shape;
    if (v.shape.length !== 2 || rows === undefined || cols === undefined) continue;
    out.set(name, { rows, cols, data: v.dataSync().slice() as Float32Array });
  }
  return out;
}

function loraRows(model: Module): UpdateRankRow[] {
  const rows: UpdateRankRow[] = [];
  for (const [name, m] of model.namedModules()) {
    if (!(m instanceof LoraLayer)) continue;
    for (const [adapter, scaling] of m.scaling) {
      const embedding = m.kind === "embedding";
      const a = embedding ? m.lora_embedding_A.get(adapter)?.variable : m.lora_A.get(adapter)?.weight.variable;
      const b = embedding ? m.lora_embedding_B.get(adapter)?.variable : m.lora_B.get(adapter)?.weight.variable;
      if (!a || !b) continue;
      // Fused-QKV output ranges only scatter B's rows into zero rows: the spectrum is unchanged.
      const [bRows = 0, r = 0] = b.shape;
      const [, aCols = 0] = a.shape;
      const s = lowRankSingularValues({ rows: bRows, cols: r, data: b.dataSync() }, { rows: r, cols: aCols, data: a.dataSync() }, scaling);
      let weightNorm = Number.NaN;
      try {
        weightNorm = frob(m.baseWeight.dataSync());
      } catch {
        /* 4-bit base */
      }
      rows.push({ ...row(name, "lora", s, weightNorm), adapter, rank: r });
    }
  }
  return rows;
}

function fullRows(model: Module, reference: WeightSnapshot): UpdateRankRow[] {
  const rows: UpdateRankRow[] = [];
  const params = model.namedParameters();
  for (const [name, ref] of reference) {
    const p = params.get(name);
    if (!p) throw new Error(`snapshot has "${name}" but the model does not; model parameters: ${[...params.keys()].join(", ")}`);
    const now = p.variable.dataSync();
    if (now.length !== ref.data.length) throw new Error(`"${name}" has ${now.length} values now but ${ref.data.length} in the snapshot`);
    const delta = new Float64Array(now.length);
    let changed = false;
    for (let i = 0; i < now.length; i++) {
      delta[i] = now[i] - ref.data[i];
      if (delta[i] !== 0) changed = true;
    }
    if (!changed) continue;
    rows.push(row(name, "full", denseSingularValues({ rows: ref.rows, cols: ref.cols, data: delta }), frob(ref.data)));
  }
  return rows;
}

/** LoRA rows for every adapter of every LoraLayer; with `reference`, full rows for every changed 2-D weight instead. */
export function updateRankTable(model: Module, opts: { reference?: WeightSnapshot } = {}): UpdateRankRow[] {
  return opts.reference ? fullRows(model, opts.reference) : loraRows(model);
}

export function toPlotSpectra(rows: readonly UpdateRankRow[]): UpdateSpectrum[] {
  return rows.map((r) => ({
    layer: r.adapter && r.adapter !== "default" ? `${r.module} [${r.adapter}]` : r.module,
    singularValues: r.singularValues,
    stableRank: r.stableRank,
    effectiveRank: r.effectiveRank,
    loraRank: r.rank,
  }));
}
