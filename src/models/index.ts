export { GPT2Config, GPT2_PRESETS } from "./gpt2_config.js";
export type { GPT2ConfigFields } from "./gpt2_config.js";
export { GPT2LMHeadModel, GPT2Model, GPT2Block, GPT2Attention, GPT2MLP, gpt2 } from "./gpt2.js";
export type { GenerateOptions, Streamer } from "./generation.js";
export { DynamicCache, EncoderDecoderCache } from "./kv_cache.js";
export type { PastKeyValue } from "./kv_cache.js";
export type { TokenInput } from "./inputs.js";
export { fromPretrained, pretrainedFolder, ARCHITECTURES } from "./pretrained.js";
export type { Architecture, FromPretrainedOptions } from "./pretrained.js";
export type { SavePretrainedOptions } from "./checkpoint.js";
export { T5Config, T5_PRESETS } from "./t5_config.js";
export type { T5ConfigFields } from "./t5_config.js";
export { T5ForConditionalGeneration, t5, shiftTokensRight } from "./t5.js";
export type { T5ForwardOptions } from "./t5.js";
export {
  T5Stack,
  T5Block,
  T5LayerSelfAttention,
  T5LayerCrossAttention,
  T5LayerFF,
  T5DenseActDense,
  T5DenseGatedActDense,
} from "./t5_layers.js";
export { T5Attention, relativePositionBucket, relativePositionBuckets } from "./t5_attention.js";
export { loadBase, shippedCheckpointDir } from "./shipped.js";
export { LlamaConfig, LLAMA_PRESETS, LLAMA_MODEL_TYPES, ROPE_TYPES } from "./llama_config.js";
export type { LlamaConfigFields, LlamaModelType, RopeScaling } from "./llama_config.js";
export { LlamaForCausalLM, LlamaModel, LlamaDecoderLayer, LlamaMLP, llama } from "./llama.js";
export type { LlamaForwardOptions } from "./llama.js";
export { LlamaAttention, slidingWindowBias } from "./llama_attention.js";
export { ropeInverseFrequencies, applyRotary, RopeTables } from "./rope.js";
export { generateCausal } from "./causal_generate.js";
export type { CausalForwardOptions, CausalGenerateOptions } from "./causal_generate.js";
export { BartConfig, BART_PRESETS } from "./bart_config.js";
export type { BartConfigFields } from "./bart_config.js";
export { BartForConditionalGeneration, BartModel, bart } from "./bart.js";
export type { BartForwardOptions, BartDecodeOptions, BartGenerateOptions } from "./bart.js";
export {
  BartEncoder,
  BartDecoder,
  BartEncoderLayer,
  BartDecoderLayer,
  BartAttention,
  BartLearnedPositionalEmbedding,
} from "./bart_layers.js";
