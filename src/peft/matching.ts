/**
 * Which modules a config targets, with PEFT's exact rules (tuners_utils.check_target_module_exists
 * and lora/model.py's rank/alpha pattern lookup). Python's re.fullmatch / re.match become anchored
 * JavaScript regexes; the patterns people write (names, dots, alternations, \d) mean the same in both.
 */
import { layerIndexOf } from "../nn/index.js";

/** Python's re.fullmatch(pattern, s). */
export function fullMatch(pattern: string, s: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(s);
}

export interface TargetRules {
  targetModules: string[] | string;
  excludeModules?: string[] | string;
  /** Modules wrapped whole by modulesToSave never get adapters (PEFT excludes them too). */
  modulesToSave?: string[];
  layersToTransform?: number[] | number;
  layersPattern?: string[] | string;
}

function matchesList(key: string, list: string[]): boolean {
  return list.some((t) => key === t || key.endsWith(`.${t}`));
}

/** True when `key` is excluded by excludeModules (checked before the targets, as PEFT does). */
export function isExcluded(rules: TargetRules, key: string): boolean {
  if (rules.modulesToSave?.some((m) => new RegExp(`^(?:|.*\\.)${m}(?:$|\\..*)`).test(key))) return true;
  const ex = rules.excludeModules;
  if (ex === undefined || ex.length === 0) return false;
  return typeof ex === "string" ? fullMatch(ex, key) : matchesList(key, ex);
}

/** PEFT's check_target_module_exists (without the exclusion, see isExcluded). */
export function isTargeted(rules: TargetRules, key: string): boolean {
  const t = rules.targetModules;
  if (typeof t === "string") return fullMatch(t, key);
  // An exact name skips the layer filter in PEFT too.
  if (t.includes(key)) return true;
  if (!matchesList(key, t)) return false;
  const layers = rules.layersToTransform;
  if (layers === undefined || (Array.isArray(layers) && layers.length === 0)) return true;
  const idx = layerIndexOf(key, rules.layersPattern);
  if (idx === undefined) return false;
  return typeof layers === "number" ? idx === layers : layers.includes(idx);
}

/**
 * PEFT's get_pattern_key: the first key k of the pattern dict with re.match(rf"(.*\.)?({k})$", name),
 * or undefined. rank_pattern and alpha_pattern are looked up separately.
 */
export function patternKey(pattern: Record<string, number>, name: string): string | undefined {
  return Object.keys(pattern).find((k) => new RegExp(`^(?:.*\\.)?(?:${k})$`).test(name));
}

/** r and alpha of one module: the pattern's value when a key matches, else the config's. */
export function rankAndAlpha(
  cfg: { r: number; loraAlpha: number; rankPattern: Record<string, number>; alphaPattern: Record<string, number> },
  name: string,
): { r: number; alpha: number } {
  const rk = patternKey(cfg.rankPattern, name);
  const ak = patternKey(cfg.alphaPattern, name);
  return { r: rk === undefined ? cfg.r : cfg.rankPattern[rk], alpha: ak === undefined ? cfg.loraAlpha : cfg.alphaPattern[ak] };
}
