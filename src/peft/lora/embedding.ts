/**
 * LoRA on an Embedding (PEFT's lora.Embedding): lora_embedding_A [r, num] and lora_embedding_B
 * [dim, r] are plain parameters, and "A x" is a row lookup of A's transpose, so the update of
 * token t is B A[:, t] * scaling. Initialised the other way round from Linear (A zeros, B normal),
 * so the update still starts at zero.
 */
import * as tf from "@tensorflow/tfjs";
import { init, type Embedding } from "../../nn/index.js";
import { LoraLayer, type LoraAdapterSpec } from "./layer.js";

export class LoraEmbedding extends LoraLayer {
  constructor(base: Embedding) {
    super(base, "embedding", base.numEmbeddings, base.embeddingDim);
    this.registerModule("lora_embedding_A", this.lora_embedding_A);
    this.registerModule("lora_embedding_B", this.lora_embedding_B);
  }

  protected override checkSpec(spec: LoraAdapterSpec): void {
    if (spec.useDora) throw new Error("useDora supports Linear and Conv1D layers with a full LoRA, not an Embedding");
  }

  protected override createAdapter(name: string, spec: LoraAdapterSpec): void {
    const { r } = spec;
    const gaussian = spec.initLoraWeights === "gaussian";
    const a = spec.initLoraWeights === true ? init.zeros([r, this.inFeatures]) : init.normal([r, this.inFeatures], 1);
    const b = gaussian ? init.zeros([this.outFeatures, r]) : init.normal([this.outFeatures, r], 1);
    this.lora_embedding_A.set(name, a);
    this.lora_embedding_B.set(name, b);
    tf.dispose([a, b]);
  }

  /** B A[:, x] * scaling: no dropout on token ids, as PEFT. */
  protected override adapterOutput(name: string, x: tf.Tensor, scaling: number): tf.Tensor {
    const a = this.lora_embedding_A.get(name)!.variable; // [r, num]
    const b = this.lora_embedding_B.get(name)!.variable; // [dim, r]
    const afterA = tf.gather(a.transpose(), x.toInt()); // [..., r]
    return tf
      .matMul(afterA.reshape([-1, a.shape[0]]), b, false, true)
      .reshape([...x.shape, this.outFeatures])
      .mul(scaling);
  }

  protected override loraProduct(name: string): tf.Tensor {
    return tf.matMul(this.lora_embedding_B.get(name)!.variable, this.lora_embedding_A.get(name)!.variable); // [dim, num]
  }
}
