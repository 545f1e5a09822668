export { GPT2Config, GPT2_PRESETS } from "./gpt2_config.js";
export type { GPT2ConfigFields } from "./gpt2_config.js";
export { GPT2LMHeadModel, GPT2Model, GPT2Block, GPT2Attention, GPT2MLP, gpt2 } from "./gpt2.js";
export type { GenerateOptions } from "./generation.js";
export type { TokenInput } from "./inputs.js";
export { fromPretrained, pretrainedFolder, ARCHITECTURES } from "./pretrained.js";
export type { Architecture, FromPretrainedOptions } from "./pretrained.js";
export type { SavePretrainedOptions } from "./checkpoint.js";
