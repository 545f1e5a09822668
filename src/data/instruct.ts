import { ChatTemplate, type ChatMessage, type Tokenizer } from "../tokenizers/index.js";
import { documentSeparator, IGNORE_INDEX, prepareLm, type LmData, type LmExample } from "./causal_lm.js";
import { dataError, describe, requireField, type DataRecord, type Dataset, type RecordSource } from "./records.js";

export interface InstructOptions {
  tokenizer: Tokenizer;
  /** T: input tokens per row; longer examples are cut to T + 1 tokens (or packed, with `packing`). */
  maxLength: number;
  /** Pack examples into full windows, masks kept (TRL's packing). Default false, as TRL's SFTConfig. */
  packing?: boolean;
  /**
   * Loss only on the completion of prompt/completion records and the assistant turns of
   * `messages` records (TRL's completion_only_loss / assistant_only_loss). Default true.
   */
  completionOnly?: boolean;
  /** For `messages` records: default the tokenizer's `chatTemplate` (an HFTokenizer from an instruct checkpoint). */
  chatTemplate?: ChatTemplate;
  /** Field names, as TRL's dataset formats. Defaults "prompt", "completion", "messages". */
  promptField?: string;
  completionField?: string;
  messagesField?: string;
  padTokenId?: number;
}

/** How many boundaries had a token straddling them (the prefix's tokens not a prefix of the whole text's). */
export interface InstructReport {
  boundaryMismatches: number;
}

/**
 * Instruction-tuning data from TRL-style records, each either
 * - `{ prompt, completion }` (text): tokens of prompt + completion, then EOS; the prompt's tokens
 *   are masked (-100) so the loss sees only the completion; or
 * - `{ messages: [{ role, content }, ...] }`: rendered with the chat template; only the tokens the
 *   template writes for assistant turns (their content and end-of-turn marker) are learned.
 * `prompt` and `completion` may also be message lists (TRL's conversational prompt-completion).
 */
export function instructData(dataset: Dataset, options: InstructOptions): LmData & { instruct: InstructReport } {
  const { tokenizer, completionOnly = true, promptField = "prompt", completionField = "completion", messagesField = "messages" } = options;
  const template = options.chatTemplate ?? (tokenizer as { chatTemplate?: ChatTemplate }).chatTemplate;
  const separator = documentSeparator(tokenizer);
  const instruct: InstructReport = { boundaryMismatches: 0 };
  const encode = (text: string) => tokenizer.encode(text);
  const data = prepareLm(dataset, { ...options, packing: options.packing ?? false }, (record, source) => {
    let segments: Segment[];
    let closeWithEos = false;
    if (messagesField in record) {
      segments = chatSegments(messagesOf(record, messagesField, source), [], requireTemplate(template, source), source);
    } else {
      const prompt = requireField(record, promptField, source);
      const completion = requireField(record, completionField, source);
      if (completion === "" || (Array.isArray(completion) && completion.length === 0)) return "empty completion";
      if (typeof prompt === "string" && typeof completion === "string") {
        // Text prompt/completion: EOS closes the completion (TRL appends it) and is learned with it.
        segments = [
          { text: prompt, learn: false },
          { text: completion, learn: true },
        ];
        closeWithEos = true;
      } else if (Array.isArray(prompt) && Array.isArray(completion)) {
        const all = [...checkMessages(prompt, promptField, source), ...checkMessages(completion, completionField, source)];
        segments = chatSegments(
          all,
          prompt.map(() => false),
          requireTemplate(template, source),
          source,
        );
      } else {
        throw dataError(
          source,
          `"${promptField}" and "${completionField}" must both be strings or both message lists; got ${describe(prompt)} and ${describe(completion)}`,
        );
      }
    }
    const { inputIds, labels } = tokenizeSegments(segments, encode, instruct);
    const example = closeWithEos
      ? { inputIds: Int32Array.from([...inputIds, ...separator]), labels: Int32Array.from([...labels, ...separator]) }
      : { inputIds, labels };
    if (!completionOnly) example.labels.set(example.inputIds);
    return example;
  });
  return Object.assign(data, { instruct });
}

/** A piece of the rendered text, and whether its tokens are learned. */
interface Segment {
  text: string;
  learn: boolean;
}

/**
 * Tokenizes the whole text once (what the model is trained on) and masks by where each
 * segment's prefix ends in tokens, as TRL does with the prompt's ids. When a token straddles the
 * boundary (a prompt ending in a space before a completion's word: "A: " + "yes" is "A", ":", " yes"),
 * the prefix's ids are not a prefix of the whole; TRL then masks len(prompt ids) tokens, which
 * would hide " yes"; here the cut is at the tokens both share, so the straddling token, which
 * carries completion text, is learned. Such boundaries are counted.
 */
function tokenizeSegments(segments: readonly Segment[], encode: (t: string) => number[], report: InstructReport): LmExample {
  const text = segments.map((s) => s.text).join("");
  const ids = encode(text);
  const labels = Int32Array.from(ids);
  let prefix = "";
  let start = 0;
  for (const [i, segment] of segments.entries()) {
    prefix += segment.text;
    let end = ids.length;
    if (i < segments.length - 1) {
      const prefixIds = encode(prefix);
      end = commonPrefixLength(prefixIds, ids);
      if (end < prefixIds.length) report.boundaryMismatches++;
    }
    if (!segment.learn) labels.fill(IGNORE_INDEX, start, Math.max(start, end));
    start = Math.max(start, end);
  }
  return { inputIds: Int32Array.from(ids), labels };
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/**
 * The rendered conversation cut into segments at each assistant turn: the text before turn i is
 * the render of messages[0..i) with the generation prompt, and turn i's own text runs to the
 * render of messages[0..i] (its content and end-of-turn marker). `fixed[i]` false marks a turn
 * (of a prompt) that is never learned, even if it is an assistant's.
 */
function chatSegments(
  messages: readonly ChatMessage[],
  fixed: readonly boolean[],
  template: ChatTemplate,
  source: RecordSource,
): Segment[] {
  const render = (upTo: number, addGenerationPrompt: boolean) => {
    try {
      return template.render(messages.slice(0, upTo), { addGenerationPrompt });
    } catch (err) {
      throw dataError(source, `the chat template fails on this conversation: ${(err as Error).message}`);
    }
  };
  const whole = render(messages.length, false);
  const segments: Segment[] = [];
  let done = 0; // characters of `whole` already in segments
  messages.forEach((m, i) => {
    if (m.role !== "assistant" || fixed[i] === false) return;
    const before = render(i, true);
    const after = render(i + 1, false);
    if (!whole.startsWith(after) || !after.startsWith(before) || before.length < done) {
      throw dataError(
        source,
        `the chat template does not render turn ${i} (assistant) as an extension of the turns before it, so its tokens cannot be found; ` +
          "templates that rewrite earlier turns (e.g. drop past reasoning) need a completion-only mask of their own",
      );
    }
    segments.push(
      { text: whole.slice(done, before.length), learn: false },
      { text: whole.slice(before.length, after.length), learn: true },
    );
    done = after.length;
  });
  if (segments.length === 0) throw dataError(source, "the conversation has no assistant turn to learn");
  if (done < whole.length) segments.push({ text: whole.slice(done), learn: false });
  return segments.filter((s) => s.text.length > 0);
}

function requireTemplate(template: ChatTemplate | undefined, source: RecordSource): ChatTemplate {
  if (!template)
    throw dataError(
      source,
      "messages need a chat template: the tokenizer has none (no chat_template in tokenizer_config.json); pass chatTemplate: new ChatTemplate(source)",
    );
  return template;
}

function messagesOf(record: DataRecord, field: string, source: RecordSource): ChatMessage[] {
  const value = record[field];
  if (!Array.isArray(value)) throw dataError(source, `field "${field}" is ${describe(value)}; expected a list of {role, content}`, field);
  return checkMessages(value, field, source);
}

function checkMessages(list: unknown[], field: string, source: RecordSource): ChatMessage[] {
  if (list.length === 0) throw dataError(source, `field "${field}" is an empty list of messages`, field);
  list.forEach((m, i) => {
    const message = m as Partial<ChatMessage> | null;
    if (typeof message !== "object" || message === null || typeof message.role !== "string" || typeof message.content !== "string") {
      throw dataError(
        source,
        `${field}[${i}] must be {"role": string, "content": string}; got ${JSON.stringify(m)?.slice(0, 80)}`,
        `${field}[${i}]`,
      );
    }
  });
  return list as ChatMessage[];
}
