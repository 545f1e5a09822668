/** tokenizers: a byte-level tokenizer for small models and Hugging Face tokenizer.json for real checkpoints. */
export type { Tokenizer, TokenizerDescription, ByteTokenizerDescription, HFTokenizerDescription } from "./types.js";
export { ByteTokenizer } from "./byte.js";
export { HFTokenizer } from "./hf.js";
export type { HFEncodeOptions } from "./hf.js";
export { loadTokenizer, saveTokenizer, tokenizerFromJSON } from "./files.js";
