/**
 * The LoRA layer wrapper (PEFT's tuners/lora/layer.py): keeps the wrapped layer as `base_layer`
 * and adds, per adapter name, `lora_A`, `lora_B` (Linear / Conv1D) or `lora_embedding_A/B`
 * (Embedding). y = base(x) + lora_B(lora_A(dropout(x))) * scaling.
 */
import * as tf from "@tensorflow/tfjs";
import { Conv1D, Dropout, Embedding, Linear, Module, init } from "../nn/index.js";
import { AdapterModules, AdapterParameters, Identity } from "./containers.js";
import type { LoraInit } from "./lora/config.js";
import { topSingularTriplets } from "./svd.js";
import { DoraMagnitude, doraTerm, rowNorm } from "./dora.js";
import { scatter } from "./fused_qkv.js";
import { Linear4bit } from "../quant/linear4bit.js";

export interface LoraAdapterSpec {
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  initLoraWeights: LoraInit;
  useDora?: boolean;
  /**
   * Output ranges [start, end) that the adapter writes to; the others get no update. lora-lab's
   * option for LoRA on Q and V only inside GPT-2's fused c_attn; undefined means every output.
   */
  outputRanges?: Array<[number, number]>;
}

export type LoraBaseKind = "linear" | "conv1d" | "embedding";

export class LoraLayer extends Module {
  readonly base_layer: Module;
  readonly lora_dropout = new AdapterModules();
  readonly lora_A = new AdapterModules<Linear>();
  readonly lora_B = new AdapterModules<Linear>();
  readonly lora_embedding_A = new AdapterParameters();
  readonly lora_embedding_B = new AdapterParameters();
  readonly lora_magnitude_vector = new AdapterModules<DoraMagnitude>();
  /** m / ||W + s B A|| of each DoRA adapter merged into the weight, to undo the merge. */
  private readonly doraMergeScale = new Map<string, tf.Tensor>();
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** True when the base weight is stored [in, out] (GPT-2's Conv1D, and embeddings' [num, dim] for the delta). */
  readonly fanInFanOut: boolean;
  readonly specs = new Map<string, LoraAdapterSpec>();
  readonly scaling = new Map<string, number>();
  activeAdapters: string[] = [];
  /** Adapters whose delta is currently added into the base weight. */
  readonly mergedAdapters: string[] = [];
  disableAdapters = false;

  constructor(base: Module, readonly kind: LoraBaseKind) {
    super();
    this.base_layer = this.registerModule("base_layer", base);
    if (base instanceof Linear) [this.inFeatures, this.outFeatures] = [base.inFeatures, base.outFeatures];
    else if (base instanceof Conv1D) [this.inFeatures, this.outFeatures] = [base.inFeatures, base.outFeatures];
    else if (base instanceof Embedding) [this.inFeatures, this.outFeatures] = [base.numEmbeddings, base.embeddingDim];
    else if (base instanceof Linear4bit) [this.inFeatures, this.outFeatures] = [base.inFeatures, base.outFeatures];
    else throw new Error(`LoraLayer cannot wrap a ${base.typeName}; supported: Linear4bit, Linear, Conv1D, Embedding`);
    this.fanInFanOut = kind !== "linear";
    if (kind === "embedding") {
      this.registerModule("lora_embedding_A", this.lora_embedding_A);
      this.registerModule("lora_embedding_B", this.lora_embedding_B);
    } else {
      this.registerModule("lora_dropout", this.lora_dropout);
      this.registerModule("lora_A", this.lora_A);
      this.registerModule("lora_B", this.lora_B);
    }
  }

  get baseWeight(): tf.Variable {
    if (this.base_layer instanceof Linear4bit) {
      throw new Error("the base layer is a 4-bit Linear4bit: merging, DoRA and PiSSA need a float weight; keep the adapter unmerged or quantize after merging");
    }
    return (this.base_layer as Linear | Conv1D | Embedding).weight.variable;
  }

  /** Adds adapter `name` (PEFT's update_layer) and makes it the active one. */
  updateLayer(name: string, spec: LoraAdapterSpec): void {
    if (this.specs.has(name)) throw new Error(`adapter "${name}" already exists on this layer; adapters: ${[...this.specs.keys()].join(", ")}`);
    const { r, alpha } = spec;
    if (spec.useDora && (this.kind === "embedding" || spec.outputRanges)) {
      throw new Error(`useDora supports Linear and Conv1D layers with a full LoRA, not ${this.kind === "embedding" ? "an Embedding" : "Q/V-only LoRA"}`);
    }
    const outWidth = spec.outputRanges ? spec.outputRanges.reduce((n, [s, e]) => n + e - s, 0) : this.outFeatures;
    this.specs.set(name, spec);
    this.scaling.set(name, spec.useRslora ? alpha / Math.sqrt(r) : alpha / r);
    if (this.kind === "embedding") {
      // PEFT: A zeros and B normal for embeddings (so the update still starts at zero).
      const gaussian = spec.initLoraWeights === "gaussian";
      const a = spec.initLoraWeights === true ? init.zeros([r, this.inFeatures]) : init.normal([r, this.inFeatures], 1);
      const b = gaussian ? init.zeros([this.outFeatures, r]) : init.normal([this.outFeatures, r], 1);
      this.lora_embedding_A.set(name, a);
      this.lora_embedding_B.set(name, b);
      tf.dispose([a, b]);
    } else {
      this.lora_dropout.set(name, spec.dropout > 0 ? new Dropout(spec.dropout) : new Identity());
      // nn.Linear's default init is kaiming_uniform(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
      const A = this.lora_A.set(name, new Linear(this.inFeatures, r, { bias: false }));
      const B = this.lora_B.set(name, new Linear(r, outWidth, { bias: false }));
      if (spec.initLoraWeights === "gaussian") {
        const a = init.normal([r, this.inFeatures], 1 / r);
        A.weight.assign(a);
        a.dispose();
      }
      if (spec.initLoraWeights !== false) {
        const z = tf.zeros(B.weight.shape);
        B.weight.assign(z);
        z.dispose();
      }
      if (spec.initLoraWeights === "pissa") this.pissaInit(name);
      if (spec.useDora) this.doraInit(name);
    }
    this.train(this.training);
    this.activeAdapters = [name];
  }

  /** The base weight as [out, in]. */
  private weightOutIn(): tf.Tensor {
    return this.fanInFanOut ? this.baseWeight.transpose() : this.baseWeight;
  }

  /** [out, in] s B A without the layout transpose. */
  private deltaOutIn(name: string): tf.Tensor {
    return tf.tidy(() => (this.fanInFanOut ? this.deltaWeight(name).transpose() : this.deltaWeight(name)));
  }

  private doraInit(name: string): void {
    if (this.lora_magnitude_vector.keys().length === 0) this.registerModule("lora_magnitude_vector", this.lora_magnitude_vector);
    const m = tf.tidy(() => rowNorm(this.weightOutIn(), this.deltaOutIn(name)));
    this.lora_magnitude_vector.set(name, new DoraMagnitude(m));
    m.dispose();
  }

  /** PiSSA: A, B from the top-r singular triplets of W; the base keeps the residual. */
  private pissaInit(name: string): void {
    if (this.specs.get(name)?.outputRanges) throw new Error(`initLoraWeights "pissa" cannot be combined with outputRanges`);
    const s = this.scaling.get(name) as number;
    const r = this.specs.get(name)!.r;
    const w = tf.tidy(() => (this.fanInFanOut ? this.baseWeight.transpose() : this.baseWeight)); // [out, in]
    const { u, s: sig, v } = topSingularTriplets(w, r); // u [out, r], v [in, r]
    tf.tidy(() => {
      const root = tf.tensor1d(Array.from(sig, (x) => Math.sqrt(x / s)));
      const a = v.transpose().mul(root.reshape([r, 1])); // [r, in]
      const b = u.mul(root.reshape([1, r])); // [out, r]
      this.lora_A.get(name)!.weight.assign(a);
      this.lora_B.get(name)!.weight.assign(b);
      const residual = w.sub(tf.matMul(b, a).mul(s));
      (this.base_layer as Linear).weight.assign(this.fanInFanOut ? residual.transpose() : residual);
    });
    tf.dispose([w, u, v]);
  }

  /** scaling * B A as the base weight is stored ([out, in] for Linear, [in, out] for Conv1D, [num, dim] for Embedding). */
  deltaWeight(name: string): tf.Tensor {
    return tf.tidy(() => {
      const s = this.scaling.get(name);
      if (s === undefined) throw new Error(`no adapter "${name}" on this layer; adapters: ${[...this.specs.keys()].join(", ")}`);
      let delta: tf.Tensor; // [out, in]
      if (this.kind === "embedding") {
        delta = tf.matMul(this.lora_embedding_B.get(name)!.variable, this.lora_embedding_A.get(name)!.variable);
      } else {
        delta = tf.matMul(this.lora_B.get(name)!.weight.variable, this.lora_A.get(name)!.weight.variable);
        const ranges = this.specs.get(name)!.outputRanges;
        if (ranges) delta = scatter(delta, ranges, this.outFeatures, 0);
      }
      delta = delta.mul(s);
      return this.fanInFanOut ? delta.transpose() : delta;
    });
  }

  merge(names: string[] = this.activeAdapters): void {
    for (const name of names) {
      if (this.mergedAdapters.includes(name)) continue;
      const w = this.baseWeight;
      const mag = this.lora_magnitude_vector.get(name);
      if (mag) {
        // W' = m / ||W + dW|| * (W + dW), per output row
        const scale = tf.tidy(() => mag.weight.variable.div(rowNorm(this.weightOutIn(), this.deltaOutIn(name))));
        tf.tidy(() => {
          const merged = this.weightOutIn().add(this.deltaOutIn(name)).mul(scale.reshape([-1, 1]));
          w.assign(this.fanInFanOut ? merged.transpose() : merged);
        });
        this.doraMergeScale.set(name, scale);
      } else {
        tf.tidy(() => w.assign(w.add(this.deltaWeight(name))));
      }
      this.mergedAdapters.push(name);
    }
  }

  unmerge(): void {
    while (this.mergedAdapters.length) {
      const name = this.mergedAdapters.pop() as string;
      const w = this.baseWeight;
      const scale = this.doraMergeScale.get(name);
      if (scale) {
        tf.tidy(() => {
          const original = this.weightOutIn().div(scale.reshape([-1, 1])).sub(this.deltaOutIn(name));
          w.assign(this.fanInFanOut ? original.transpose() : original);
        });
        scale.dispose();
        this.doraMergeScale.delete(name);
      } else {
        tf.tidy(() => w.assign(w.sub(this.deltaWeight(name))));
      }
    }
  }

  get merged(): boolean {
    return this.mergedAdapters.length > 0;
  }

  deleteAdapter(name: string): void {
    if (this.mergedAdapters.includes(name)) throw new Error(`adapter "${name}" is merged; unmerge before deleting it`);
    for (const d of [this.lora_A, this.lora_B, this.lora_dropout, this.lora_magnitude_vector]) if (d.has(name)) d.delete(name);
    this.lora_embedding_A.delete(name);
    this.lora_embedding_B.delete(name);
    this.specs.delete(name);
    this.scaling.delete(name);
    this.activeAdapters = this.activeAdapters.filter((a) => a !== name);
  }

  forward(x: tf.Tensor): tf.Tensor {
    const base = this.base_layer as unknown as { forward(x: tf.Tensor): tf.Tensor };
    if (this.disableAdapters) {
      if (this.merged) this.unmerge();
      return base.forward(x);
    }
    if (this.merged) return base.forward(x);
    return tf.tidy(() => {
      let y = base.forward(x);
      for (const name of this.activeAdapters) {
        const s = this.scaling.get(name);
        if (s === undefined) continue;
        if (this.kind === "embedding") {
          const a = this.lora_embedding_A.get(name)!.variable; // [r, num]
          const b = this.lora_embedding_B.get(name)!.variable; // [dim, r]
          const afterA = tf.gather(a.transpose(), x.toInt()); // [..., r]
          y = y.add(tf.matMul(afterA.reshape([-1, a.shape[0]]), b, false, true).reshape(y.shape).mul(s));
          continue;
        }
        const drop = this.lora_dropout.get(name) as unknown as { forward(x: tf.Tensor): tf.Tensor };
        const A = this.lora_A.get(name)!;
        const B = this.lora_B.get(name)!;
        const xd = drop.forward(x);
        let upd = B.forward(A.forward(xd)).mul(s); // [..., outWidth]
        const mag = this.lora_magnitude_vector.get(name);
        if (mag) {
          y = y.add(doraTerm(xd, this.weightOutIn(), this.deltaOutIn(name), mag.weight.variable, upd));
          continue;
        }
        const ranges = this.specs.get(name)!.outputRanges;
        if (ranges) upd = scatter(upd, ranges, this.outFeatures, -1);
        y = y.add(upd);
      }
      return y;
    });
  }
}

/** Ordered dispatch (first match wins) from a base layer to its LoRA wrapper; quantized layers go in front. */
export interface LoraDispatcher {
  name: string;
  create(target: Module): LoraLayer | undefined;
}

export const LORA_DISPATCHERS: LoraDispatcher[] = [
  // 4-bit storage, [out, in] like Linear (a quantized Conv1D was transposed by quantizeModel)
  { name: "Linear4bit", create: (m) => (m instanceof Linear4bit ? new LoraLayer(m, "linear") : undefined) },
  { name: "Embedding", create: (m) => (m instanceof Embedding ? new LoraLayer(m, "embedding") : undefined) },
  { name: "Conv1D", create: (m) => (m instanceof Conv1D ? new LoraLayer(m, "conv1d") : undefined) },
  { name: "Linear", create: (m) => (m instanceof Linear ? new LoraLayer(m, "linear") : undefined) },
];

/** Wraps `target` with the first dispatcher that accepts it; the error lists the supported types. */
export function createLoraLayer(target: Module, key: string): LoraLayer {
  for (const d of LORA_DISPATCHERS) {
    const layer = d.create(target);
    if (layer) return layer;
  }
  throw new Error(
    `Target module "${key}" (${target.typeName}) is not supported. Currently, only the following modules are supported: ` +
      `${LORA_DISPATCHERS.map((d) => d.name).join(", ")}`,
  );
}
