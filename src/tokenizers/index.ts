/** tokenizers: a byte-level tokenizer for small models, Hugging Face tokenizer.json for real checkpoints, chat templates. */
export type { Tokenizer, TokenizerDescription, ByteTokenizerDescription, HFTokenizerDescription } from "./types.js";
export { ByteTokenizer } from "./byte.js";
export { HFTokenizer } from "./hf.js";
export type { HFEncodeOptions } from "./hf.js";
export { loadTokenizer, saveTokenizer, tokenizerFromJSON } from "./files.js";
export { ChatTemplate, specialTokenStrings } from "./chat_template.js";
export type { ChatMessage, ChatTemplateRenderOptions } from "./chat_template.js";
export { trainBpeTokenizer, bytesToUnicode, GPT2_PRETOKENIZE } from "./bpe_train.js";
export type { BpeTrainOptions, TrainedBpe } from "./bpe_train.js";
