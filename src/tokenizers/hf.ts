import { Tokenizer as HFCore } from "@huggingface/tokenizers";
import { ChatTemplate, type ChatMessage, type ChatTemplateRenderOptions } from "./chat_template.js";
import { checkIds, type HFTokenizerDescription, type Tokenizer } from "./types.js";

type Json = Record<string, unknown>;

/** The pipeline stages @huggingface/tokenizers insists are present (null when unused). */
const PIPELINE_KEYS = ["normalizer", "pre_tokenizer", "post_processor", "decoder"] as const;

export interface HFEncodeOptions {
  /** Add the post-processor's special tokens (e.g. Llama's BOS). Off by default: lora-lab joins documents itself. */
  addSpecialTokens?: boolean;
}

/**
 * A Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram) for real checkpoints, wrapping
 * @huggingface/tokenizers. eos/bos/pad come from `tokenizer_config.json` when given.
 */
export class HFTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosTokenId?: number;
  readonly bosTokenId?: number;
  readonly padTokenId?: number;
  /** tokenizer_config.json's `chat_template` (instruct checkpoints have one), with its special tokens as variables. */
  readonly chatTemplate?: ChatTemplate;
  private readonly core: HFCore;
  private readonly tokenizerJson: Json;
  private readonly tokenizerConfig: Json;

  constructor(tokenizerJson: object, tokenizerConfig: object = {}) {
    if (!isObject(tokenizerJson) || !isObject(tokenizerJson["model"])) {
      throw new TypeError('HFTokenizer: expected the parsed contents of a tokenizer.json, an object with a "model" field');
    }
    if (!isObject(tokenizerConfig)) {
      throw new TypeError("HFTokenizer: expected the parsed contents of a tokenizer_config.json, an object");
    }
    this.tokenizerJson = tokenizerJson;
    // transformers v5 no longer cleans up spaces on decode; without it decode(encode(s)) === s.
    this.tokenizerConfig = { clean_up_tokenization_spaces: false, ...tokenizerConfig };
    // Hand-written tokenizer.json files often omit unused stages; the library requires them.
    const filled: Json = { added_tokens: [], ...tokenizerJson };
    for (const key of PIPELINE_KEYS) if (!(key in filled)) filled[key] = null;
    this.core = new HFCore(filled, this.tokenizerConfig);
    let maxId = -1;
    for (const id of this.core.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.eosTokenId = this.specialId("eos_token");
    this.bosTokenId = this.specialId("bos_token");
    this.padTokenId = this.specialId("pad_token");
    this.chatTemplate = ChatTemplate.fromTokenizerConfig(this.tokenizerConfig);
  }

  /** transformers' `apply_chat_template(messages, tokenize=False)`: the conversation as the checkpoint's template writes it. */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateRenderOptions = {}): string {
    if (!this.chatTemplate) {
      throw new Error(
        "HFTokenizer.applyChatTemplate: tokenizer_config.json has no chat_template; pass one (new ChatTemplate(source)) or use a checkpoint that has one",
      );
    }
    return this.chatTemplate.render(messages, options);
  }

  encode(text: string, options: HFEncodeOptions = {}): number[] {
    return this.core.encode(text, { add_special_tokens: options.addSpecialTokens ?? false }).ids;
  }

  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ""; // the library throws on an empty array
    checkIds(ids, this.vocabSize, "HFTokenizer");
    return this.core.decode(Array.from(ids), { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The token strings `encode` produces, for inspecting merges. */
  tokenize(text: string): string[] {
    return this.core.tokenize(text);
  }

  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.core.id_to_token(id);
  }

  toJSON(): HFTokenizerDescription {
    return { kind: "hf", tokenizerJson: this.tokenizerJson, tokenizerConfig: this.tokenizerConfig };
  }

  /** Config tokens are a string or, as transformers also writes them, an AddedToken object. */
  private specialId(key: string): number | undefined {
    const value = this.tokenizerConfig[key];
    if (value === undefined || value === null) return undefined;
    const content = typeof value === "string" ? value : isObject(value) ? value["content"] : undefined;
    if (typeof content !== "string") {
      throw new TypeError(
        `HFTokenizer: tokenizer_config.json "${key}" is ${JSON.stringify(value)}; expected a string or {"content": string}`,
      );
    }
    const id = this.core.token_to_id(content);
    if (id === undefined) {
      throw new Error(`HFTokenizer: tokenizer_config.json "${key}" is ${JSON.stringify(content)}, which is not in the vocabulary`);
    }
    return id;
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
