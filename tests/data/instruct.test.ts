import { readFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, ready, seed } from "../../src/engine/index.js";
import { GPT2Config, gpt2 } from "../../src/models/index.js";
import { crossEntropy } from "../../src/nn/index.js";
import { ByteTokenizer, ChatTemplate, HFTokenizer } from "../../src/tokenizers/index.js";
import { Dataset, IGNORE_INDEX, instructData, type CausalLmBatch, type LmExample } from "../../src/data/index.js";
import { EOS, TINY_CONFIG, tinyBpeJson } from "../tokenizers/tiny-bpe.js";
import { gpt2TokenizerFiles } from "../fixtures/gpt2_tokenizer.js";

const bpe = new HFTokenizer(tinyBpeJson(), TINY_CONFIG); // bytes are their own ids (few merges); EOS 261
const bytes = new ByteTokenizer();
const TEMPLATES: Record<string, { chat_template: string; special_tokens: Record<string, string> }> = JSON.parse(
  readFileSync(new URL("../fixtures/chat-templates/chat_templates.json", import.meta.url), "utf8"),
).templates;
const template = (name: string) => new ChatTemplate(TEMPLATES[name]!.chat_template, TEMPLATES[name]!.special_tokens);

/** The text of the tokens whose labels are learned, run by run (each maximal run of unmasked labels). */
function learnedRuns(e: LmExample, tok: { decode(ids: number[]): string }): string[] {
  const runs: number[][] = [];
  let current: number[] | undefined;
  e.labels.forEach((l, i) => {
    if (l === IGNORE_INDEX) current = undefined;
    else {
      if (!current) runs.push((current = []));
      current.push(e.inputIds[i]!);
    }
  });
  return runs.map((r) => tok.decode(r));
}

beforeAll(async () => {
  await ready();
});

describe("instructData: prompt / completion", () => {
  const ds = Dataset.fromRecords([
    { prompt: "Q: 2+2?\nA:", completion: " 4" },
    { prompt: "Q: capital of France?\nA:", completion: " Paris" },
  ]);

  it("learns the completion and the EOS after it, never the prompt", () => {
    const data = instructData(ds, { tokenizer: bpe, maxLength: 64 });
    const [first] = data.examples;
    expect(learnedRuns(first!, bpe)).toEqual([" 4<|endoftext|>"]);
    expect([...first!.inputIds]).toEqual([...bpe.encode("Q: 2+2?\nA: 4"), EOS]);
    expect([...first!.labels].filter((l) => l === IGNORE_INDEX)).toHaveLength(bpe.encode("Q: 2+2?\nA:").length);
    expect(data.instruct.boundaryMismatches).toBe(0);
    expect(learnedRuns(data.examples[1]!, bpe)).toEqual([" Paris<|endoftext|>"]);
  });

  it("a token straddling the prompt / completion boundary is learned and counted (GPT-2's BPE: 'A: ' + 'yes' -> ' yes')", () => {
    const files = gpt2TokenizerFiles();
    const gpt2Tok = new HFTokenizer(files.tokenizerJson, files.tokenizerConfig);
    const data = instructData(
      Dataset.fromRecords([
        { prompt: "Question: hi\nAnswer: ", completion: "yes" },
        { prompt: "Q:", completion: " no" },
      ]),
      {
        tokenizer: gpt2Tok,
        maxLength: 32,
      },
    );
    expect(gpt2Tok.tokenize("Answer: yes").slice(-1)).toEqual(["Ġyes"]);
    expect(learnedRuns(data.examples[0]!, gpt2Tok)).toEqual([" yes<|endoftext|>"]);
    expect(learnedRuns(data.examples[1]!, gpt2Tok)).toEqual([" no<|endoftext|>"]);
    expect(data.instruct.boundaryMismatches).toBe(1);
  });

  it("completionOnly: false learns every token", () => {
    const data = instructData(ds, { tokenizer: bpe, maxLength: 64, completionOnly: false });
    expect(data.examples.every((e) => e.labels.every((l, i) => l === e.inputIds[i]))).toBe(true);
  });

  it("names the record with a missing or mistyped field, and counts empty completions", () => {
    const bad = Dataset.fromRecords([{ prompt: "a", completion: "b" }, { prompt: "a" }], "sft.jsonl");
    expect(() => instructData(bad, { tokenizer: bpe, maxLength: 8 })).toThrow('sft.jsonl:2: record has no field "completion"');
    const typed = Dataset.fromRecords([{ prompt: "a", completion: 3 }], "sft.jsonl");
    expect(() => instructData(typed, { tokenizer: bpe, maxLength: 8 })).toThrow(
      /sft\.jsonl:1: "prompt" and "completion" must both be strings/,
    );
    const empty = instructData(
      Dataset.fromRecords([
        { prompt: "a", completion: "b" },
        { prompt: "c", completion: "" },
      ]),
      { tokenizer: bpe, maxLength: 8 },
    );
    expect(empty.examples).toHaveLength(1);
    expect(empty.report.skipped.examples[0]!.reason).toMatch(/:2: empty completion/);
  });

  it("skips, and counts, an example whose completion falls beyond maxLength", () => {
    const data = instructData(
      Dataset.fromRecords([
        { prompt: "a very long prompt", completion: "x" },
        { prompt: "a", completion: "b" },
      ]),
      {
        tokenizer: bytes,
        maxLength: 4,
      },
    );
    expect(data.examples).toHaveLength(1);
    expect(data.report.skipped.examples[0]!.reason).toMatch(/no trainable token within maxLength/);
  });
});

describe("instructData: messages with a chat template", () => {
  const conversation = {
    messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Hi" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Bye" },
      { role: "assistant", content: "Bye!" },
    ],
  };

  it("ChatML (Qwen2.5): learns each assistant turn's content and its <|im_end|>, nothing of the system or user turns", () => {
    const data = instructData(Dataset.fromRecords([conversation]), {
      tokenizer: bytes,
      maxLength: 512,
      chatTemplate: template("chatml_qwen2.5"),
    });
    const [e] = data.examples;
    expect(bytes.decode([...e!.inputIds])).toBe(template("chatml_qwen2.5").render(conversation.messages));
    expect(learnedRuns(e!, bytes)).toEqual(["Hello.<|im_end|>\n", "Bye!<|im_end|>\n"]);
  });

  it("LLaMA-3: learns the content and <|eot_id|>, the assistant header being the prompt's", () => {
    const data = instructData(Dataset.fromRecords([conversation]), { tokenizer: bytes, maxLength: 512, chatTemplate: template("llama3") });
    expect(learnedRuns(data.examples[0]!, bytes)).toEqual(["Hello.<|eot_id|>", "Bye!<|eot_id|>"]);
  });

  it("GPT-2's template on a BPE tokenizer: the content and the EOS token", () => {
    const data = instructData(Dataset.fromRecords([conversation]), { tokenizer: bpe, maxLength: 512, chatTemplate: template("gpt2") });
    expect(learnedRuns(data.examples[0]!, bpe)).toEqual(["Hello.<|endoftext|>", "Bye!<|endoftext|>"]);
  });

  it("conversational prompt / completion learns only the completion's assistant turn", () => {
    const record = { prompt: conversation.messages.slice(0, 4), completion: conversation.messages.slice(4) };
    const data = instructData(Dataset.fromRecords([record]), {
      tokenizer: bytes,
      maxLength: 512,
      chatTemplate: template("chatml_qwen2.5"),
    });
    expect(learnedRuns(data.examples[0]!, bytes)).toEqual(["Bye!<|im_end|>\n"]);
  });

  it("names the record: no template, a bad message, a template that raises", () => {
    const ds = Dataset.fromRecords([conversation], "chat.jsonl");
    expect(() => instructData(ds, { tokenizer: bytes, maxLength: 64 })).toThrow(/chat\.jsonl:1: messages need a chat template/);
    const bad = Dataset.fromRecords([{ messages: [{ role: "user", text: "x" }] }], "chat.jsonl");
    expect(() => instructData(bad, { tokenizer: bytes, maxLength: 64, chatTemplate: template("gpt2") })).toThrow(
      /chat\.jsonl:1: messages\[0\] must be \{"role": string, "content": string\}/,
    );
    const twoUsers = Dataset.fromRecords(
      [
        {
          messages: [
            { role: "user", content: "a" },
            { role: "user", content: "b" },
            { role: "assistant", content: "c" },
          ],
        },
      ],
      "chat.jsonl",
    );
    expect(() => instructData(twoUsers, { tokenizer: bytes, maxLength: 64, chatTemplate: template("llama2") })).toThrow(
      /chat\.jsonl:1: the chat template fails on this conversation: Conversation roles must alternate/,
    );
  });
});

describe("completion-only loss: masked tokens get zero gradient", () => {
  it("d loss / d logits is exactly zero at every prompt and padding position and non-zero at every completion position", async () => {
    seed(1);
    const model = gpt2(new GPT2Config({ vocabSize: 262, nPositions: 32, nEmbd: 16, nLayer: 1, nHead: 2 }));
    model.train(false);
    const prompts = ["Q: hot?\nA:", "Q: a colour of the sky?\nA:"];
    const completions = [" cold", " blue"];
    const data = instructData(Dataset.fromRecords(prompts.map((prompt, i) => ({ prompt, completion: completions[i]! }))), {
      tokenizer: bpe,
      maxLength: 31,
    });
    const [batch] = data.evalBatches(2) as [CausalLmBatch];
    const [B, T] = batch.shape;
    // Expected positions from the texts alone: target t is learned when token t + 1 is in the completion or its EOS.
    const expected: boolean[] = [];
    prompts.forEach((p, b) => {
      const promptLen = bpe.encode(p).length;
      const total = bpe.encode(p + completions[b]).length + 1;
      for (let t = 0; t < T; t++) expected.push(t + 1 >= promptLen && t + 1 < total);
    });
    await expectNoLeak(() => {
      const grads = tf.tidy(() => {
        const logits = model.forward(tf.tensor2d(batch.inputIds, [B, T], "int32"));
        const targets = tf.tensor2d(batch.targets, [B, T], "int32");
        const g = tf.grad((x: tf.Tensor) => crossEntropy(x, targets))(logits); // [B, T, V]
        return g.abs().sum(-1).arraySync() as number[][];
      });
      const nonZero = grads.flat().map((v) => v > 0);
      expect(nonZero).toEqual(expected);
      expect(expected.filter(Boolean).length).toBe(bpe.encode(" cold").length + bpe.encode(" blue").length + 2);
    });
    model.dispose();
  });
});
