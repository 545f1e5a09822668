/**
 * LoRA on a 4-bit quantized Linear (QLoRA; PEFT's tuners/lora/bnb.py Linear4bit): the adapter is
 * a float LoRA as on Linear, the base weight stays packed, so nothing can be merged into it.
 */
import type * as tf from "@tensorflow/tfjs";
import type { Linear4bit } from "../../quant/linear4bit.js";
import { LoraLinear } from "./linear.js";

export class LoraLinear4bit extends LoraLinear {
  constructor(base: Linear4bit) {
    super(base);
  }

  override get baseWeight(): tf.Variable {
    throw new Error(
      "the base layer is a 4-bit Linear4bit: merging, DoRA and PiSSA need a float weight; keep the adapter unmerged or quantize after merging",
    );
  }
}
