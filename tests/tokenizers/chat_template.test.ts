import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ChatTemplate, HFTokenizer, loadTokenizer, type ChatMessage } from "../../src/tokenizers/index.js";
import { TINY_CONFIG, tinyBpeJson } from "./tiny-bpe.js";

/** Rendered by tests/fixtures/make_chat_templates.py with jinja2 set up as transformers does. */
interface Fixture {
  templates: Record<string, { chat_template: string; special_tokens: Record<string, string> }>;
  conversations: Record<string, ChatMessage[]>;
  cases: {
    template: string;
    conversation: string;
    add_generation_prompt: boolean;
    tools: unknown[] | null;
    rendered?: string;
    error?: string;
  }[];
}
const FIXTURE: Fixture = JSON.parse(readFileSync(new URL("../fixtures/chat-templates/chat_templates.json", import.meta.url), "utf8"));

describe("ChatTemplate renders as transformers' apply_chat_template (jinja2 fixtures)", () => {
  for (const name of Object.keys(FIXTURE.templates)) {
    it(`${name}: every conversation, with and without the generation prompt`, () => {
      const spec = FIXTURE.templates[name]!;
      const template = new ChatTemplate(spec.chat_template, spec.special_tokens);
      const cases = FIXTURE.cases.filter((c) => c.template === name);
      expect(cases.length).toBeGreaterThanOrEqual(8);
      for (const c of cases) {
        const messages = FIXTURE.conversations[c.conversation]!;
        const render = () => template.render(messages, { addGenerationPrompt: c.add_generation_prompt, tools: c.tools ?? undefined });
        const what = `${name} / ${c.conversation} / add_generation_prompt=${c.add_generation_prompt} / tools=${!!c.tools}`;
        if (c.error !== undefined) expect(render, what).toThrow(c.error);
        else expect(render(), what).toBe(c.rendered);
      }
    });
  }

  it("the fixtures cover trimming, the generation prompt, tools and raise_exception", () => {
    const qwen = FIXTURE.cases.find(
      (c) => c.template === "chatml_qwen2.5" && c.conversation === "user_only" && c.add_generation_prompt && !c.tools,
    )!;
    expect(qwen.rendered).toBe(
      "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    );
    const llama3 = FIXTURE.cases.find((c) => c.template === "llama3" && c.conversation === "system_two_turns" && !c.add_generation_prompt)!;
    expect(llama3.rendered).toContain("<|start_header_id|>user<|end_header_id|>\n\nAnd QLoRA?<|eot_id|>");
    expect(llama3.rendered!.startsWith("<|begin_of_text|>")).toBe(true);
    expect(FIXTURE.cases.some((c) => c.template === "llama2" && c.error?.startsWith("Conversation roles must alternate"))).toBe(true);
    expect(FIXTURE.cases.some((c) => c.tools && c.rendered?.includes('"name": "get_weather"'))).toBe(true);
  });
});

describe("chat templates from tokenizer files", () => {
  const llama3 = FIXTURE.templates["llama3"]!.chat_template;
  const messages: ChatMessage[] = [{ role: "user", content: " hi " }];

  it("HFTokenizer takes chat_template and its special tokens (strings or AddedToken objects) from tokenizer_config.json", () => {
    const tok = new HFTokenizer(tinyBpeJson(), {
      ...TINY_CONFIG,
      bos_token: { content: "<|endoftext|>", special: true },
      chat_template: llama3,
    });
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
      "<|endoftext|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    expect(() => new HFTokenizer(tinyBpeJson(), TINY_CONFIG).applyChatTemplate(messages)).toThrow(/has no chat_template/);
  });

  it("picks a named template from transformers' list form", () => {
    const config = {
      chat_template: [
        { name: "default", template: "{{ messages[0].content }}" },
        { name: "tool_use", template: "T" },
      ],
    };
    expect(ChatTemplate.fromTokenizerConfig(config)!.render(messages)).toBe(" hi ");
    expect(ChatTemplate.fromTokenizerConfig(config, "tool_use")!.render(messages)).toBe("T");
    expect(() => ChatTemplate.fromTokenizerConfig(config, "rag")).toThrow(/no chat template named "rag"; it has "default", "tool_use"/);
  });

  it("loadTokenizer reads chat_template.jinja beside tokenizer.json (transformers 4.50+)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lora-lab-chat-"));
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(tinyBpeJson()));
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify(TINY_CONFIG));
    await writeFile(join(dir, "chat_template.jinja"), "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}");
    const tok = (await loadTokenizer(dir)) as HFTokenizer;
    expect(
      tok.applyChatTemplate([
        { role: "user", content: "a" },
        { role: "assistant", content: "b" },
      ]),
    ).toBe("[user] a\n[assistant] b\n");
  });

  it("rejects messages without a role or content, naming the message", () => {
    const t = new ChatTemplate("{{ messages | length }}");
    expect(() => t.render([{ content: "x" } as unknown as ChatMessage])).toThrow(/message 0 must be an object with a string "role"/);
    expect(() => t.render([{ role: "user" } as unknown as ChatMessage])).toThrow(/message 0 \(user\) has no string "content"/);
  });
});
