import * as tf from "@tensorflow/tfjs";
import { AdamWBase, type AdamWOptions, type AdamWStepOptions } from "./adamw_base.js";
import {
  dequantizeOptimState,
  MIN_8BIT_STATE_SIZE,
  quantizeOptimState,
  SIGNED_DYNAMIC_MAP,
  stateBytes,
  UNSIGNED_DYNAMIC_MAP,
  type Blockwise8bit,
} from "./adamw8bit_state.js";
import { fusedAdamWStep } from "../engine/index.js";
import { adamwUpdate, updateSquare } from "./adamw_update.js";
import type { GradMap } from "./clip.js";
import type { OptimParameter, ResolvedParamGroup } from "./param_groups.js";

export interface PagedAdamWOptions extends AdamWOptions {
  /** 32: float32 moments (bitsandbytes' paged_adamw_32bit); 8: blockwise 8-bit moments. Default 32. */
  optimBits?: 32 | 8;
  /**
   * The most backend bytes the optimizer may take during step(): the float32 moments of the page
   * being updated plus the update's temporaries (PAGE_TEMP_BYTES_PER_ELEMENT per element of the
   * largest parameter). A group that does not fit is split into several pages. Default: no limit
   * (one page per parameter group).
   */
  budgetBytes?: number;
}

/** What paging moved so far; bytes are float32 moments crossing between JS memory and the backend. */
export interface PagingStats {
  pagesIn: number;
  pagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Highest tf.memory().numBytes during a step, above its value when the step began. */
  peakBytes: number;
}

/** Float32 temporaries of one parameter's update (decay, moments, denominator, step, update norm). */
export const PAGE_TEMP_BYTES_PER_ELEMENT = 64;
/** Room for the update's scalars. */
const PAGE_SCALAR_BYTES = 256;

/** One parameter's moments as stored in JS memory, and its update count. */
export interface HostMoments {
  m: Float32Array | Blockwise8bit;
  v: Float32Array | Blockwise8bit;
  step: number;
}

/** Parameter names updated together, and the backend bytes that takes at most. */
interface Page {
  group: ResolvedParamGroup;
  params: string[];
  bytes: number;
}

/**
 * AdamW (same update as `AdamW`, torch.optim.AdamW) whose moments live outside the backend, in
 * plain typed arrays: float32, or bitsandbytes' blockwise 8-bit format (tensors under 4096
 * elements stay float32, as min_8bit_size). step() pages one parameter group at a time onto the
 * backend, updates it and pages it back out, so the backend holds at most `budgetBytes` of
 * optimizer memory however large the model; `stats` counts pages and bytes moved.
 */
export class PagedAdamW extends AdamWBase {
  readonly optimBits: 32 | 8;
  readonly budgetBytes: number;
  readonly pages: Page[];
  readonly stats: PagingStats = { pagesIn: 0, pagesOut: 0, bytesIn: 0, bytesOut: 0, peakBytes: 0 };
  private readonly moments = new Map<string, HostMoments>();
  private exported: tf.Tensor[] = [];

  constructor(params: Map<string, OptimParameter>, opts: PagedAdamWOptions = {}) {
    const optimBits = opts.optimBits ?? 32;
    const budgetBytes = opts.budgetBytes ?? Infinity;
    super(params, opts, (name) => {
      if (optimBits !== 32 && optimBits !== 8) throw new Error(`${name}: optimBits must be 32 or 8, got ${optimBits}`);
      if (!(budgetBytes > 0)) throw new Error(`${name}: budgetBytes must be > 0, got ${budgetBytes}`);
    });
    this.optimBits = optimBits;
    this.budgetBytes = budgetBytes;
    this.pages = this.groups.flatMap((g) => this.splitIntoPages(g));
  }

  /** Bytes of all moments in JS memory (8-bit codes and absmax, or float32). */
  get hostStateBytes(): number {
    let total = 0;
    for (const s of this.moments.values()) total += stateBytes(s.m) + stateBytes(s.v);
    return total;
  }

  /** A parameter's moments as stored (8-bit codes and absmax, or float32), undefined before its first update: for inspection; do not modify. */
  hostState(name: string): Readonly<HostMoments> | undefined {
    return this.moments.get(name);
  }

  step(grads: GradMap, opts: AdamWStepOptions = {}): Map<string, number> | undefined {
    this.checkGradientNames(grads);
    this.freeExported();
    this.stepCount++;
    const base = tf.memory().numBytes;
    const updateSquares = new Map<string, number>();
    for (const page of this.pages) {
      const names = page.params.filter((n) => grads.has(n));
      if (names.length === 0) continue;
      const onBackend = this.pageIn(names);
      for (const n of names) {
        const sq = this.update(n, grads.get(n)!, onBackend.get(n)!, opts, base);
        if (sq !== undefined) updateSquares.set(n, sq);
      }
      this.pageOut(onBackend);
    }
    if (!opts.updateNorms) return undefined;
    return new Map(this.parameterNames.map((n) => [n, updateSquares.get(n) ?? 0]));
  }

  /** Moments as float32 tensors by "<param>.exp_avg" / "<param>.exp_avg_sq", freed by the next step() or dispose(). */
  stateTensors(): Record<string, tf.Tensor> {
    this.freeExported();
    const out: Record<string, tf.Tensor> = {};
    for (const [name, s] of this.moments) {
      const shape = this.variables.get(name)!.shape;
      out[`${name}.exp_avg`] = tf.tensor(toFloat32(s.m), shape);
      out[`${name}.exp_avg_sq`] = tf.tensor(toFloat32(s.v), shape);
    }
    this.exported = Object.values(out);
    return out;
  }

  dispose(): void {
    this.freeExported();
    this.moments.clear();
  }

  private freeExported(): void {
    tf.dispose(this.exported);
    this.exported = [];
  }

  private splitIntoPages(group: ResolvedParamGroup): Page[] {
    const pages: Page[] = [];
    let current: Page | undefined;
    let largest = 0;
    for (const p of group.params) {
      const n = this.variables.get(p)!.size;
      const alone = 8 * n + PAGE_TEMP_BYTES_PER_ELEMENT * n + PAGE_SCALAR_BYTES;
      if (alone > this.budgetBytes) {
        throw new Error(
          `${this.constructor.name}: parameter "${p}" (${n} elements) needs ${alone} bytes of backend memory to update (its float32 moments and the update's temporaries), more than budgetBytes (${this.budgetBytes}); raise budgetBytes to at least ${alone}`,
        );
      }
      const withIt = current
        ? current.bytes - PAGE_TEMP_BYTES_PER_ELEMENT * largest + 8 * n + PAGE_TEMP_BYTES_PER_ELEMENT * Math.max(largest, n)
        : Infinity;
      if (current && withIt <= this.budgetBytes) {
        current.params.push(p);
        current.bytes = withIt;
        largest = Math.max(largest, n);
      } else {
        current = { group, params: [p], bytes: alone };
        largest = n;
        pages.push(current);
      }
    }
    return pages;
  }

  private hostMoments(name: string): HostMoments {
    let s = this.moments.get(name);
    if (!s) {
      const n = this.variables.get(name)!.size;
      const eightBit = this.optimBits === 8 && n >= MIN_8BIT_STATE_SIZE;
      const make = (code: Float32Array) =>
        eightBit ? { codes: new Uint8Array(n), absmax: new Float32Array(Math.ceil(n / 256)), code } : new Float32Array(n);
      s = { m: make(SIGNED_DYNAMIC_MAP), v: make(UNSIGNED_DYNAMIC_MAP), step: 0 };
      this.moments.set(name, s);
    }
    return s;
  }

  private pageIn(names: string[]): Map<string, { m: tf.Tensor; v: tf.Tensor }> {
    const out = new Map<string, { m: tf.Tensor; v: tf.Tensor }>();
    for (const n of names) {
      const s = this.hostMoments(n);
      const shape = this.variables.get(n)!.shape;
      out.set(n, { m: tf.tensor(toFloat32(s.m), shape), v: tf.tensor(toFloat32(s.v), shape) });
      this.stats.bytesIn += 8 * this.variables.get(n)!.size;
    }
    this.stats.pagesIn++;
    return out;
  }

  private pageOut(onBackend: Map<string, { m: tf.Tensor; v: tf.Tensor }>): void {
    for (const [n, { m, v }] of onBackend) {
      const s = this.moments.get(n)!;
      s.m = store(s.m, m.dataSync() as Float32Array);
      s.v = store(s.v, v.dataSync() as Float32Array);
      this.stats.bytesOut += 8 * m.size;
      tf.dispose([m, v]);
    }
    this.stats.pagesOut++;
  }

  /** AdamW's update of one parameter; replaces the paged-in moments in `state`. Returns the squared update norm when asked. */
  private update(
    name: string,
    grad: tf.Tensor,
    state: { m: tf.Tensor; v: tf.Tensor },
    opts: AdamWStepOptions,
    base: number,
  ): number | undefined {
    const variable = this.variables.get(name)!;
    const { scalars, weightDecay } = this.scalarsOf(name, ++this.hostMoments(name).step, opts.lrScale);
    const [m, v, sq] = tf.tidy(() => {
      // One pass where the backend has lora-lab's fused kernel (as AdamW): 12 bytes of temporaries
      // per element instead of the op-by-op update's PAGE_TEMP_BYTES_PER_ELEMENT.
      const fused = fusedAdamWStep(variable, grad, state.m, state.v, scalars);
      const u = fused ?? adamwUpdate(variable, grad, state.m, state.v, scalars, weightDecay);
      // The fused kernel measures the change as it goes; the op-by-op update needs a pass for it.
      const sq = opts.updateNorms ? [fused?.updateSquare ?? updateSquare(variable, u.param)] : [];
      // Every temporary is alive here: the step's peak.
      this.stats.peakBytes = Math.max(this.stats.peakBytes, tf.memory().numBytes - base);
      variable.assign(u.param);
      return [u.m, u.v, ...sq];
    });
    tf.dispose([state.m, state.v]);
    state.m = m;
    state.v = v;
    if (!sq) return undefined;
    const value = sq.dataSync()[0];
    sq.dispose();
    return value;
  }
}

function toFloat32(state: Float32Array | Blockwise8bit): Float32Array {
  return state instanceof Float32Array ? state : dequantizeOptimState(state);
}

function store(state: Float32Array | Blockwise8bit, values: Float32Array): Float32Array | Blockwise8bit {
  if (state instanceof Float32Array) {
    state.set(values);
    return state;
  }
  return quantizeOptimState(values, state.code, state);
}
