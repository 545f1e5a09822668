import { describe, expect, it } from "vitest";
import { layerIndexOf, LAYERS_PATTERNS } from "../../src/nn/index.js";

describe("layerIndexOf(name, layersPattern?)", () => {
  // [name, layersPattern, expected]: each row a rule of PEFT's check_target_module_exists regexes.
  const cases: Array<[string, string | string[] | undefined, number | undefined]> = [
    // Without a pattern: the first all-digit segment with two segments before it and one after.
    ["transformer.h.11.mlp.c_fc", undefined, 11],
    ["transformer.h.10.attn.c_proj.weight", undefined, 10],
    ["encoder.block.3.layer.1.SelfAttention.q.weight", undefined, 3],
    ["model.layers.7.self_attn.q_proj.weight", undefined, 7],
    ["base_model.model.transformer.h.2.attn.c_attn.lora_A.default.weight", undefined, 2],
    ["model.layers.1.experts.0.w1", undefined, 1], // the first (lazy) match, not the last
    ["h.0.attn.c_attn", undefined, undefined], // one segment before the number is not enough
    ["transformer.h.9", undefined, undefined], // the number must be followed by a dot
    ["transformer.h.9.", undefined, 9],
    ["transformer.wpe.weight", undefined, undefined],
    ["lm_head", undefined, undefined],
    // With patterns: the number after the first pattern of the list that occurs.
    ["decoder.block.5.layer.1.EncDecAttention.v", ["layer"], 1],
    ["decoder.block.5.layer.1.EncDecAttention.v", "block", 5],
    ["decoder.block.5.layer.1.EncDecAttention.v", ["layer", "block"], 1],
    ["model.layers.1.experts.0.w1", ["experts"], 0],
    ["transformer.h.3.attn.c_attn.weight", "h", 3],
    ["h.3.attn.c_attn.weight", "h", undefined], // PEFT's regex wants a segment before the pattern
    ["transformer.h.3.attn.c_attn.weight", "layers", undefined],
    ["transformer.h.3.attn.c_attn.weight", [], 3], // an empty list is no pattern
    ["encoder.block.3.layer.1.SelfAttention.q.weight", LAYERS_PATTERNS, 3], // "block" comes before "layer"
    ["model.layers.7.mlp.up_proj", "(?:layers|h)", 7], // a pattern is a regex (grouped: it sits inside a larger one)
  ];
  for (const [name, pattern, expected] of cases) {
    it(`${name} with ${JSON.stringify(pattern)} -> ${expected}`, () => {
      expect(layerIndexOf(name, pattern)).toBe(expected);
    });
  }
});
