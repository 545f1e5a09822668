import { Template } from "@huggingface/jinja";

/** One chat turn, as transformers' `messages`: a role ("system", "user", "assistant", "tool") and its text. */
export interface ChatMessage {
  role: string;
  content: string;
  [extra: string]: unknown;
}

export interface ChatTemplateRenderOptions {
  /** End with the header that opens an assistant turn (for generation). Default false. */
  addGenerationPrompt?: boolean;
  /** Tool (function) descriptions, for templates that list them. */
  tools?: readonly unknown[];
  /** Further template variables, as apply_chat_template's **kwargs. */
  variables?: Record<string, unknown>;
}

/** The special tokens transformers passes to a template as variables (its special_tokens_map). */
const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;

/**
 * A chat template from tokenizer_config.json, rendered as transformers' `apply_chat_template(...,
 * tokenize=False)`: @huggingface/jinja parses with trim_blocks and lstrip_blocks, as transformers'
 * jinja2 environment does, and provides `raise_exception`, `tojson` and `strftime_now`; the
 * special tokens (bos_token, eos_token, ...) are variables.
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    /** Variables every render gets: the special tokens as strings. */
    readonly specialTokens: Record<string, string> = {},
  ) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new Error(`ChatTemplate: the template does not parse: ${(err as Error).message}`);
    }
  }

  /**
   * The template of a tokenizer_config.json (its `chat_template`: a string, or transformers' list
   * of `{ name, template }` from which `name`, default "default", is taken), or undefined when it has none.
   */
  static fromTokenizerConfig(config: Record<string, unknown>, name = "default"): ChatTemplate | undefined {
    const value = config["chat_template"];
    if (value === undefined || value === null) return undefined;
    let source: unknown = value;
    if (Array.isArray(value)) {
      const named = value.find((t) => (t as { name?: unknown })?.name === name) as { template?: unknown } | undefined;
      if (!named) {
        const names = value.map((t) => JSON.stringify((t as { name?: unknown })?.name)).join(", ");
        throw new Error(`ChatTemplate: tokenizer_config.json has no chat template named "${name}"; it has ${names}`);
      }
      source = named.template;
    }
    if (typeof source !== "string") throw new TypeError(`ChatTemplate: chat_template must be a string or a list of {name, template}`);
    return new ChatTemplate(source, specialTokenStrings(config));
  }

  /** The conversation as text; the template's own `raise_exception` errors come out as Errors with its message. */
  render(messages: readonly ChatMessage[], options: ChatTemplateRenderOptions = {}): string {
    checkMessages(messages);
    return this.template.render({
      ...this.specialTokens,
      ...options.variables,
      messages,
      tools: options.tools ?? null,
      documents: null,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  }
}

/** The special tokens of a tokenizer_config.json as strings (they are strings or AddedToken objects there). */
export function specialTokenStrings(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const value = config[key];
    const content = typeof value === "string" ? value : (value as { content?: unknown } | null)?.content;
    if (typeof content === "string") out[key] = content;
  }
  return out;
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new TypeError("ChatTemplate.render: messages must be a list of {role, content}");
  messages.forEach((m, i) => {
    if (typeof m !== "object" || m === null || typeof m.role !== "string")
      throw new TypeError(
        `ChatTemplate.render: message ${i} must be an object with a string "role"; got ${JSON.stringify(m)?.slice(0, 60)}`,
      );
    if (typeof m.content !== "string" && !Array.isArray(m.content) && !("tool_calls" in m))
      throw new TypeError(`ChatTemplate.render: message ${i} (${m.role}) has no string "content"`);
  });
}
