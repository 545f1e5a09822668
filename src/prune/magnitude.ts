import { tf } from "../engine/index.js";
import { Conv1D, Linear, type Module, type Parameter } from "../nn/index.js";

/**
 * Which weights to prune: PEFT-style module names (a name matches itself or any name ending in
 * "." + it, e.g. "c_fc" or "transformer.h.3.mlp.c_fc"), or a RegExp tested on the full module name.
 * Default: every Linear and Conv1D weight except `lm_head` (tied to the embeddings in GPT-2) and
 * LoRA's own A / B matrices. Biases, LayerNorms and embeddings are never pruned.
 */
export type PruneTargets = readonly string[] | RegExp;

export interface MagnitudePruneOptions {
  /** Fraction of each selected weight set to zero, in [0, 1]: round(sparsity * size) entries, rounded as Python's round(). */
  sparsity: number;
  modules?: PruneTargets;
  /**
   * "layer" (default): each weight loses its own smallest entries, as torch's
   * `prune.l1_unstructured`; "global": one threshold over all selected weights, as
   * `prune.global_unstructured` with L1.
   */
  scope?: "layer" | "global";
}

export interface PrunedWeight {
  /** Parameter name, e.g. "transformer.h.0.attn.c_attn.weight". */
  name: string;
  size: number;
  /** Entries this call set to zero (already-zero entries included when they were the smallest). */
  pruned: number;
}

export interface PruneResult {
  weights: PrunedWeight[];
  /** Entries set to zero over all selected weights, and their total size. */
  pruned: number;
  total: number;
  /**
   * Multiplies every pruned weight by its mask again. Training moves pruned entries off zero;
   * call it after each step (`train(model, { beforeStep: () => r.reapply() })`, then once more at the
   * end) to keep the pruned structure while the rest fine-tunes.
   */
  reapply(): void;
  /** Frees the masks. */
  dispose(): void;
}

export interface SparsityReport {
  /** Exact zeros over the selected weights, and their size. */
  zeros: number;
  total: number;
  /** zeros / total. */
  sparsity: number;
  /** Per parameter name: its fraction of exact zeros. */
  perWeight: Record<string, number>;
}

function isLoraPart(name: string): boolean {
  return name.split(".").some((seg) => seg.startsWith("lora_"));
}

function matches(name: string, targets: PruneTargets): boolean {
  if (targets instanceof RegExp) return targets.test(name);
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
}

/** The weights the options select, by parameter name, in module order. */
export function pruneTargets(model: Module, modules?: PruneTargets): Map<string, Parameter> {
  const out = new Map<string, Parameter>();
  const available: string[] = [];
  for (const [name, mod] of model.namedModules()) {
    if (!(mod instanceof Linear || mod instanceof Conv1D) || isLoraPart(name)) continue;
    available.push(name);
    const last = name.split(".").pop();
    const chosen = modules === undefined ? last !== "lm_head" : matches(name, modules);
    if (chosen) out.set(name === "" ? "weight" : `${name}.weight`, mod.weight);
  }
  if (out.size === 0) {
    const shown = available.slice(0, 12).join(", ") + (available.length > 12 ? `, ... (${available.length} in all)` : "");
    throw new Error(
      `magnitudePrune: no Linear or Conv1D module matches ${modules instanceof RegExp ? modules : JSON.stringify(modules)}; available: ${shown || "(none)"}`,
    );
  }
  return out;
}

/**
 * Indices of the k entries with the smallest |value|; ties go to the lower index, so the result
 * does not depend on the sort's stability.
 */
function smallestK(values: ArrayLike<number>, k: number): Int32Array {
  const idx = Int32Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => Math.abs(values[a]) - Math.abs(values[b]) || a - b);
  return idx.subarray(0, k);
}

/** Python's round(): halves go to the even neighbour, so counts equal torch.nn.utils.prune's. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5 || (d === 0.5 && f % 2 === 1)) return f + 1;
  return f;
}

function checkSparsity(sparsity: number): void {
  if (!(sparsity >= 0 && sparsity <= 1)) throw new RangeError(`magnitudePrune: sparsity must be a fraction in [0, 1]; got ${sparsity}`);
}

/**
 * Magnitude (L1, unstructured) pruning in place: the smallest-|w| entries of the selected weights
 * become exactly zero. Returns the masks so the pruned structure can be kept during training.
 */
export function magnitudePrune(model: Module, options: MagnitudePruneOptions): PruneResult {
  checkSparsity(options.sparsity);
  const scope = options.scope ?? "layer";
  if (scope !== "layer" && scope !== "global")
    throw new Error(`magnitudePrune: scope must be "layer" or "global"; got ${JSON.stringify(scope)}`);
  const targets = [...pruneTargets(model, options.modules)];
  const values = targets.map(([, p]) => p.variable.dataSync() as Float32Array);
  const keep = values.map((v) => new Uint8Array(v.length).fill(1));
  if (scope === "layer") {
    values.forEach((v, i) => {
      for (const j of smallestK(v, roundHalfEven(options.sparsity * v.length))) keep[i][j] = 0;
    });
  } else {
    const total = values.reduce((s, v) => s + v.length, 0);
    const flat = new Float32Array(total);
    const owner: Array<[number, number]> = [];
    let at = 0;
    values.forEach((v, i) => {
      flat.set(v, at);
      at += v.length;
      owner.push([at - v.length, i]);
    });
    for (const g of smallestK(flat, roundHalfEven(options.sparsity * total))) {
      // owner is sorted by start offset: find the weight holding flat index g
      let lo = 0;
      let hi = owner.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (owner[mid][0] <= g) lo = mid;
        else hi = mid - 1;
      }
      keep[owner[lo][1]][g - owner[lo][0]] = 0;
    }
  }
  const masks = targets.map(([, p], i) => tf.keep(tf.tensor(keep[i], p.shape, "bool")));
  const reapply = () => {
    targets.forEach(([, p], i) => {
      if (masks[i].isDisposed) throw new Error("magnitudePrune: reapply() after dispose(); the masks are gone");
      // where(), not a product: a product leaves -0 for negative weights
      tf.tidy(() => p.assign(tf.where(masks[i], p.variable, tf.zerosLike(p.variable))));
    });
  };
  reapply();
  const weights = targets.map(([name, p], i) => ({ name, size: p.size, pruned: keep[i].reduce((s, x) => s + (x === 0 ? 1 : 0), 0) }));
  return {
    weights,
    pruned: weights.reduce((s, w) => s + w.pruned, 0),
    total: weights.reduce((s, w) => s + w.size, 0),
    reapply,
    dispose: () => masks.forEach((m) => m.dispose()),
  };
}

/** The fraction of exact zeros in the selected weights (same selection rules as magnitudePrune). */
export function sparsityOf(model: Module, opts: { modules?: PruneTargets } = {}): SparsityReport {
  const perWeight: Record<string, number> = {};
  let zeros = 0;
  let total = 0;
  for (const [name, p] of pruneTargets(model, opts.modules)) {
    const v = p.variable.dataSync();
    let z = 0;
    for (let i = 0; i < v.length; i++) if (v[i] === 0) z++;
    perWeight[name] = z / v.length;
    zeros += z;
    total += v.length;
  }
  return { zeros, total, sparsity: total === 0 ? 0 : zeros / total, perWeight };
}
