/**
 * LoRA on a Linear or on GPT-2's Conv1D (PEFT's lora.Linear; Conv1D is its fan_in_fan_out case:
 * the weight is stored [in, out], so deltas are transposed before they touch it). lora_A and
 * lora_B are bias-free Linears; the options that only these layers have live here: DoRA, PiSSA
 * init, and lora-lab's partial adapter on some of Q, K, V of a fused projection (fused_qkv.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { Conv1D, Dropout, Linear, init, type Module } from "../../nn/index.js";
import { Identity } from "../containers.js";
import { DoraMagnitude, doraTerm, rowNorm } from "./dora.js";
import { scatter } from "./fused_qkv.js";
import { LoraLayer, type LoraAdapterSpec } from "./layer.js";
import { topSingularTriplets } from "./svd.js";

/** A base layer with a [out, in] or [in, out] weight: Linear, Conv1D, or the 4-bit Linear4bit. */
type LinearLike = Module & { inFeatures: number; outFeatures: number };

export class LoraLinear extends LoraLayer {
  /** m / ||W + s B A|| of each DoRA adapter merged into the weight, to undo the merge. */
  private readonly doraMergeScale = new Map<string, tf.Tensor>();

  constructor(base: LinearLike) {
    super(base, base instanceof Conv1D ? "conv1d" : "linear", base.inFeatures, base.outFeatures);
    this.registerModule("lora_dropout", this.lora_dropout);
    this.registerModule("lora_A", this.lora_A);
    this.registerModule("lora_B", this.lora_B);
  }

  protected override checkSpec(spec: LoraAdapterSpec): void {
    if (spec.useDora && spec.outputRanges) throw new Error("useDora supports Linear and Conv1D layers with a full LoRA, not Q/V-only LoRA");
  }

  protected override createAdapter(name: string, spec: LoraAdapterSpec): void {
    const { r } = spec;
    const outWidth = spec.outputRanges ? spec.outputRanges.reduce((n, [s, e]) => n + e - s, 0) : this.outFeatures;
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

  protected override loraProduct(name: string): tf.Tensor {
    const delta = tf.matMul(this.lora_B.get(name)!.weight.variable, this.lora_A.get(name)!.weight.variable); // [outWidth, in]
    const ranges = this.specs.get(name)!.outputRanges;
    return ranges ? scatter(delta, ranges, this.outFeatures, 0) : delta;
  }

  protected override placeUpdate(name: string, update: tf.Tensor, xd: tf.Tensor): tf.Tensor {
    const mag = this.lora_magnitude_vector.get(name);
    if (mag) return doraTerm(xd, this.weightOutIn(), this.deltaOutIn(name), mag.weight.variable, update);
    const ranges = this.specs.get(name)!.outputRanges;
    return ranges ? scatter(update, ranges, this.outFeatures, -1) : update;
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
    const w = tf.tidy(() => this.weightOutIn()); // [out, in]
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

  /** DoRA: W' = m / ||W + dW|| * (W + dW), per output row. */
  protected override mergeAdapter(name: string): void {
    const mag = this.lora_magnitude_vector.get(name);
    if (!mag) return super.mergeAdapter(name);
    const w = this.baseWeight;
    const scale = tf.tidy(() => mag.weight.variable.div(rowNorm(this.weightOutIn(), this.deltaOutIn(name))));
    tf.tidy(() => {
      const merged = this.weightOutIn()
        .add(this.deltaOutIn(name))
        .mul(scale.reshape([-1, 1]));
      w.assign(this.fanInFanOut ? merged.transpose() : merged);
    });
    this.doraMergeScale.set(name, scale);
  }

  protected override unmergeAdapter(name: string): void {
    const scale = this.doraMergeScale.get(name);
    if (!scale) return super.unmergeAdapter(name);
    const w = this.baseWeight;
    tf.tidy(() => {
      const original = this.weightOutIn()
        .div(scale.reshape([-1, 1]))
        .sub(this.deltaOutIn(name));
      w.assign(this.fanInFanOut ? original.transpose() : original);
    });
    scale.dispose();
    this.doraMergeScale.delete(name);
  }
}
