/**
 * A frozen linear layer over packed 4-bit storage (bitsandbytes' Linear4bit). The weight lives in
 * plain typed arrays, [out, in] row-major as torch.nn.Linear, never in a tfjs variable; forward
 * dequantizes it to a float32 tensor for the matmul (TensorFlow.js has no bf16 compute, so the
 * compute dtype is float32, where QLoRA uses bf16), so gradients reach the input but the 4-bit
 * weight gets none. The bias, if any, stays a float32 Parameter.
 */
import * as tf from "@tensorflow/tfjs";
import { Conv1D, Linear, Module, linearOutIn, type Parameter } from "../nn/index.js";
import { dequantize, quantize, quantizedBytes, type QuantizeOptions, type QuantizedTensor } from "./blockwise.js";

export class Linear4bit extends Module {
  readonly bias?: Parameter;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly weight4bit: QuantizedTensor,
    bias?: Parameter,
  ) {
    super();
    if (weight4bit.numel !== inFeatures * outFeatures) {
      throw new Error(
        `Linear4bit(${inFeatures}, ${outFeatures}) needs ${inFeatures * outFeatures} quantized values, got ${weight4bit.numel}`,
      );
    }
    if (bias) {
      bias.requiresGrad = false;
      this.bias = this.registerParameter("bias", bias);
    }
  }

  /** Quantizes a Linear ([out, in]) or GPT-2 Conv1D ([in, out], transposed first, as transformers does) layer. */
  static fromLayer(layer: Linear | Conv1D, opts: QuantizeOptions): Linear4bit {
    const w = tf.tidy(() => (layer instanceof Conv1D ? layer.weight.variable.transpose() : layer.weight.variable.clone()));
    const values = w.dataSync() as Float32Array;
    w.dispose();
    const q = quantize(values, opts, [layer.outFeatures, layer.inFeatures]);
    return new Linear4bit(layer.inFeatures, layer.outFeatures, q, layer.bias);
  }

  get quantType(): string {
    return this.weight4bit.quantType;
  }

  /** PEFT's count for a packed 4-bit weight: numel of the uint8 storage times 2. */
  get packedParameterCount(): number {
    return this.weight4bit.packed.length * 2;
  }

  /** Bytes of the packed weight and its constants (the bias not included). */
  get weightBytes(): number {
    return quantizedBytes(this.weight4bit);
  }

  /** The dequantized weight [out, in] as a new float32 tensor (the caller disposes it). */
  dequantizedWeight(): tf.Tensor2D {
    return tf.tensor2d(dequantize(this.weight4bit), [this.outFeatures, this.inFeatures]);
  }

  forward(x: tf.Tensor): tf.Tensor {
    const got = x.shape[x.rank - 1];
    if (got !== this.inFeatures)
      throw new Error(`Linear4bit expects inputs with last dimension ${this.inFeatures}, got shape [${x.shape}]`);
    return tf.tidy(() => linearOutIn(x, this.dequantizedWeight(), this.bias?.variable));
  }
}
