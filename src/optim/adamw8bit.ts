import { AdamW, type AdamWOptions } from "./adamw.js";
import type { OptimParameter } from "./param_groups.js";
import { PagedAdamW } from "./paged_adamw.js";

/**
 * AdamW with bitsandbytes' blockwise 8-bit moments (dynamic map, blocksize 256; tensors under
 * 4096 elements keep float32 moments). TensorFlow.js has no 8-bit dtype, so the codes live in JS
 * memory and each parameter group is dequantized onto the backend for its update and quantized
 * back: the same machinery as PagedAdamW with optimBits 8 and no budget.
 */
export class AdamW8bit extends PagedAdamW {
  constructor(params: Map<string, OptimParameter>, opts: AdamWOptions = {}) {
    super(params, { ...opts, optimBits: 8 });
  }
}

/** The optimizers `train()` can build, by bitsandbytes' / transformers' optim names. */
export const ADAMW_VARIANTS = ["adamw", "adamw8bit", "paged_adamw", "paged_adamw8bit"] as const;
export type AdamWVariant = (typeof ADAMW_VARIANTS)[number];

/** Builds an AdamW variant; `budgetBytes` applies to the paged ones only. */
export function createAdamW(
  variant: AdamWVariant,
  params: Map<string, OptimParameter>,
  opts: AdamWOptions & { budgetBytes?: number } = {},
): AdamW | PagedAdamW {
  const { budgetBytes, ...adamw } = opts;
  if (budgetBytes !== undefined && !variant.startsWith("paged_")) {
    throw new Error(`createAdamW: budgetBytes applies to "paged_adamw" and "paged_adamw8bit", not "${variant}"`);
  }
  switch (variant) {
    case "adamw":
      return new AdamW(params, adamw);
    case "adamw8bit":
      return new AdamW8bit(params, adamw);
    case "paged_adamw":
      return new PagedAdamW(params, { ...adamw, optimBits: 32, budgetBytes });
    case "paged_adamw8bit":
      return new PagedAdamW(params, { ...adamw, optimBits: 8, budgetBytes });
    default:
      throw new Error(`createAdamW: unknown optimizer "${variant as string}"; available: ${ADAMW_VARIANTS.join(", ")}`);
  }
}
