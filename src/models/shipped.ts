import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { GPT2LMHeadModel } from "./gpt2.js";
import { fromPretrained } from "./pretrained.js";

/** The checkpoints that ship with the package (`npm run pretrain` writes them): src/models and dist/models sit two levels below the root. */
export function shippedCheckpointDir(name: string): string {
  const root = fileURLToPath(new URL("../../checkpoints/", import.meta.url));
  const dir = `${root}${name}`;
  if (!existsSync(`${dir}/config.json`)) {
    const available = existsSync(root) ? readdirSync(root).filter((d) => existsSync(`${root}${d}/config.json`)) : [];
    throw new Error(`no shipped checkpoint "${name}" in ${root}; available: ${available.join(", ") || "(none; run npm run pretrain)"}`);
  }
  return dir;
}

/** A pretrained base that ships with the package ("tiny": GPT-2 tiny on the Brown corpus's general genres), in eval mode. */
export async function loadBase(name = "tiny"): Promise<GPT2LMHeadModel> {
  return fromPretrained<GPT2LMHeadModel>(shippedCheckpointDir(name));
}
