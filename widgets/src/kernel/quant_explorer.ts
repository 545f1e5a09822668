/** QuantExplorer: quant type and blocksize -> code points, the weights they must cover, and the error. */
import { bitsPerParameter, dequantize, FP4_CODE, INT4_CODE, NF4_CODE, quantErrorFigure, quantize, type QuantType } from "lora-lab";
import { LabWidget, packFigure } from "./lab_widget.js";

const CODES: Record<QuantType, Float32Array> = { nf4: NF4_CODE, fp4: FP4_CODE, int4: INT4_CODE };
const QUANT_TYPES = Object.keys(CODES) as QuantType[];
const BLOCKSIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096];
/** Points of the weight histogram sent to the view (the error uses every weight). */
const HISTOGRAM_POINTS = 4096;

export interface QuantExplorerOptions {
  /** Weights to quantize (e.g. a layer's). Default: 65,536 draws of N(0, 0.02²), seeded. */
  weights?: Float32Array;
  quantType?: QuantType;
  blocksize?: number;
  doubleQuant?: boolean;
}

export interface QuantReport {
  quantType: QuantType;
  blocksize: number;
  doubleQuant: boolean;
  meanAbsError: number;
  rmse: number;
  bitsPerParameter: number;
}

/** Seeded N(0, std²) draws (mulberry32 + Box-Muller), so the explorer shows the same weights each run. */
export function normalWeights(n: number, std: number, seed = 0): Float32Array {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

export class QuantExplorer extends LabWidget {
  readonly weights: Float32Array;

  constructor(o: QuantExplorerOptions = {}) {
    super("QuantExplorer", {
      quant_type: o.quantType ?? "nf4",
      quant_types: QUANT_TYPES,
      blocksize: o.blocksize ?? 64,
      blocksizes: BLOCKSIZES,
      double_quant: o.doubleQuant ?? false,
      summary: "",
      figure: null,
    });
    this.weights = o.weights ?? normalWeights(65536, 0.02);
    this.redraw();
    this.observe(["quant_type", "blocksize", "double_quant"], () => this.redraw());
    this.open();
  }

  /** Errors of one setting over all the weights. */
  measure(
    quantType: QuantType = this.get("quant_type"),
    blocksize: number = this.get("blocksize"),
    doubleQuant: boolean = this.get("double_quant"),
  ): QuantReport {
    const q = quantize(this.weights, { quantType, blocksize, doubleQuant });
    const back = dequantize(q);
    let abs = 0;
    let sq = 0;
    for (let i = 0; i < back.length; i++) {
      const d = this.weights[i] - back[i];
      abs += Math.abs(d);
      sq += d * d;
    }
    return {
      quantType,
      blocksize,
      doubleQuant,
      meanAbsError: abs / back.length,
      rmse: Math.sqrt(sq / back.length),
      bitsPerParameter: bitsPerParameter(q),
    };
  }

  get value(): QuantReport {
    return this.measure();
  }

  private redraw(): void {
    const type = this.get<QuantType>("quant_type");
    if (!CODES[type]) throw new Error(`QuantExplorer: unknown quant type "${type}"; available: ${QUANT_TYPES.join(", ")}`);
    const blocksize = this.get<number>("blocksize");
    const reports = QUANT_TYPES.map((t) => this.measure(t, blocksize));
    const current = this.measure();
    const normalized: number[] = [];
    const stride = Math.max(1, Math.floor(this.weights.length / HISTOGRAM_POINTS));
    for (let start = 0; start < this.weights.length && normalized.length < HISTOGRAM_POINTS; start += blocksize) {
      const block = this.weights.subarray(start, start + blocksize);
      const absmax = block.reduce((m, v) => Math.max(m, Math.abs(v)), 0) || 1;
      for (let i = 0; i < block.length; i += Math.max(1, Math.floor(stride / 4))) normalized.push(block[i] / absmax);
    }
    const figure = quantErrorFigure(
      {
        codebooks: [{ name: type.toUpperCase(), codes: [...CODES[type]] }],
        normalizedWeights: normalized.slice(0, HISTOGRAM_POINTS),
        errors: reports.map((r) => ({ layer: `blocksize ${blocksize}`, method: r.quantType.toUpperCase(), error: r.meanAbsError })),
      },
      { height: 340 },
    );
    this.set({
      figure: packFigure(figure),
      summary: `${type.toUpperCase()}, blocksize ${blocksize}${current.doubleQuant ? ", double quant" : ""}: mean |error| ${current.meanAbsError.toExponential(3)}, RMSE ${current.rmse.toExponential(3)}, ${current.bitsPerParameter.toFixed(3)} bits/parameter`,
    });
  }
}
