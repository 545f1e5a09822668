/**
 * PEFT's adapter state dict (utils/save_and_load.py): the adapter's tensors under the names
 * Python PEFT writes, i.e. the PeftModel's parameter names with the adapter name removed
 * (`base_model.model.transformer.h.0.attn.c_attn.lora_A.weight`) and modulesToSave copies
 * under the wrapped module's own name (`base_model.model.lm_head.weight`).
 */
import type { Module, Parameter } from "../../nn/index.js";
import type { LoraBias } from "./config.js";

/** Saved name -> live parameter, for one adapter. */
export function adapterParameters(peft: Module, adapterName: string, bias: LoraBias): Map<string, Parameter> {
  const out = new Map<string, Parameter>();
  const params = peft.namedParameters();
  const loraTag = new RegExp(`\\.(lora_(?:A|B|embedding_A|embedding_B))\\.${escape(adapterName)}(\\.|$)`);
  const savedTag = `.modules_to_save.${adapterName}.`;
  const loraOwners = new Set<string>();
  // PEFT saves DoRA's magnitude without its ".weight": `<module>.lora_magnitude_vector`.
  const doraTag = `.lora_magnitude_vector.${adapterName}.weight`;
  for (const [name, p] of params) {
    if (name.endsWith(doraTag)) {
      out.set(name.slice(0, -doraTag.length) + ".lora_magnitude_vector", p);
      loraOwners.add(name.slice(0, -doraTag.length));
      continue;
    }
    const m = loraTag.exec(name);
    if (m) {
      out.set(name.replace(loraTag, ".$1$2"), p);
      loraOwners.add(name.slice(0, m.index));
    } else if (name.includes(savedTag)) {
      out.set(name.replace(savedTag, "."), p);
    }
  }
  for (const [name, p] of params) {
    if (name.includes(".modules_to_save.") || name.includes(".original_module.")) continue;
    if (!name.endsWith("bias")) continue;
    const owner = name.replace(/\.base_layer\.bias$/, "");
    if (bias === "all" || (bias === "lora_only" && loraOwners.has(owner))) out.set(name, p);
  }
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
