/**
 * "Which transformer layer is this module or parameter in?", answered once for LoRA's
 * layersToTransform, layer-wise learning rates, plans, the CLI demo and the configurator widget.
 * The rule is PEFT's (tuners_utils.check_target_module_exists); Python's re.match becomes an
 * anchored regex, and PEFT's lazy reading of it is kept: the first match wins.
 */

/** PEFT's COMMON_LAYERS_PATTERN: the name segments that precede a transformer layer's index. */
export const LAYERS_PATTERNS = ["layers", "h", "block", "blocks", "layer"];

/**
 * The layer index in a dotted name, or undefined.
 * - Without `layersPattern`: the first all-digit segment with at least two segments before it and
 *   one after (`transformer.h.9.attn` -> 9, `encoder.block.3.layer.0.SelfAttention.q` -> 3).
 * - With `layersPattern` (a regex or a list, each for the segment before the index): the number
 *   after the first pattern of the list that occurs after some prefix
 *   (`decoder.block.5.layer.1.EncDecAttention.v` with "layer" -> 1).
 * The index must be followed by a dot, so a bare `transformer.h.9` has none: pass `${name}.` for a
 * module that is itself a layer.
 */
export function layerIndexOf(name: string, layersPattern?: string | string[]): number | undefined {
  const patterns = layersPattern === undefined ? [] : ([] as string[]).concat(layersPattern);
  if (patterns.length === 0) return numberAt(/^.*?\.[^.]*\.(\d+)\./, name);
  for (const p of patterns) {
    const index = numberAt(new RegExp(`^.*?\\.${p}\\.(\\d+)\\.`), name);
    if (index !== undefined) return index;
  }
  return undefined;
}

function numberAt(re: RegExp, name: string): number | undefined {
  const m = re.exec(name);
  return m ? Number(m[1]) : undefined;
}
