import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ByteTokenizer } from "./byte.js";
import { HFTokenizer } from "./hf.js";
import type { Tokenizer, TokenizerDescription } from "./types.js";

const TOKENIZER_JSON = "tokenizer.json";
const TOKENIZER_CONFIG = "tokenizer_config.json";
/** Where transformers (4.50 and later) saves the chat template instead of inside tokenizer_config.json. */
const CHAT_TEMPLATE_FILE = "chat_template.jinja";

/** Rebuilds a tokenizer from what its `toJSON()` returned. */
export function tokenizerFromJSON(description: TokenizerDescription): Tokenizer {
  switch (description?.kind) {
    case "byte":
      return new ByteTokenizer();
    case "hf":
      return new HFTokenizer(description.tokenizerJson, description.tokenizerConfig);
    default:
      throw new TypeError(
        `tokenizerFromJSON: unknown description kind ${JSON.stringify((description as { kind?: unknown })?.kind)}; expected "byte" or "hf"`,
      );
  }
}

/**
 * Loads the tokenizer saved in `dir`: `tokenizer.json` (+ `tokenizer_config.json`) is a Hugging
 * Face tokenizer; a `tokenizer_config.json` alone with `"tokenizer_class": "ByteTokenizer"` is
 * lora-lab's byte tokenizer.
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  let present: string[];
  try {
    present = (await readdir(dir)).sort();
  } catch (err) {
    throw new Error(`loadTokenizer: cannot read directory ${JSON.stringify(dir)}: ${(err as Error).message}`);
  }
  const config = present.includes(TOKENIZER_CONFIG) ? await readJson(join(dir, TOKENIZER_CONFIG)) : undefined;
  if (present.includes(TOKENIZER_JSON)) {
    const withTemplate = { ...config };
    if (present.includes(CHAT_TEMPLATE_FILE)) withTemplate["chat_template"] = await readFile(join(dir, CHAT_TEMPLATE_FILE), "utf8");
    return new HFTokenizer(await readJson(join(dir, TOKENIZER_JSON)), withTemplate);
  }
  if (config?.["tokenizer_class"] === "ByteTokenizer") return new ByteTokenizer();
  const found = present.length > 0 ? present.join(", ") : "(empty directory)";
  const configNote = config ? ` (${TOKENIZER_CONFIG} has tokenizer_class ${JSON.stringify(config["tokenizer_class"])})` : "";
  throw new Error(
    `loadTokenizer: no tokenizer in ${JSON.stringify(dir)}${configNote}; looked for ${TOKENIZER_JSON} ` +
      `(Hugging Face) or ${TOKENIZER_CONFIG} with "tokenizer_class": "ByteTokenizer"; files present: ${found}`,
  );
}

/** Writes `tok` to `dir` (created if missing) in the form `loadTokenizer` and transformers read. */
export async function saveTokenizer(tok: Tokenizer, dir: string): Promise<void> {
  const description = tok.toJSON();
  await mkdir(dir, { recursive: true });
  if (description.kind === "hf") {
    await writeJson(join(dir, TOKENIZER_JSON), description.tokenizerJson);
  }
  await writeJson(join(dir, TOKENIZER_CONFIG), description.tokenizerConfig);
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  const text = await readFile(path, "utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`loadTokenizer: ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`loadTokenizer: ${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

async function writeJson(path: string, value: object): Promise<void> {
  await writeFile(path, JSON.stringify(value, null, 2) + "\n", "utf8");
}
