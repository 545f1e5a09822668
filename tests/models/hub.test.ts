import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ready } from "../../src/engine/index.js";
import { fromPretrained, pretrainedFolder, type GPT2LMHeadModel } from "../../src/models/index.js";
import { fakeHub } from "./fake_hub.js";

const GOLDEN = fileURLToPath(new URL("../fixtures/gpt2-golden", import.meta.url));
const cache = mkdtempSync(join(tmpdir(), "lora-lab-hub-"));

const golden = (f: string) => new Uint8Array(readFileSync(join(GOLDEN, f)));

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "debug").mockImplementation(() => {});
});
afterAll(() => rmSync(cache, { recursive: true, force: true }));

describe("fromPretrained with a hub id", () => {
  it("downloads config and weights into the cache and loads the same model as the folder", async () => {
    const hub = fakeHub("tester/golden-gpt2", { "config.json": golden("config.json"), "model.safetensors": golden("model.safetensors") });
    const model = await fromPretrained<GPT2LMHeadModel>("tester/golden-gpt2", { cacheDir: cache, fetch: hub.fetch });
    const local = await fromPretrained<GPT2LMHeadModel>(GOLDEN);
    const ids = [[1, 2, 3, 4]];
    expect(model.forward(ids).dataSync()).toEqual(local.forward(ids).dataSync());
    const folder = join(cache, "tester--golden-gpt2", "main");
    expect(await pretrainedFolder("tester/golden-gpt2", { cacheDir: cache, fetch: hub.fetch })).toBe(folder);
    expect(readFileSync(join(folder, "model.safetensors"))).toEqual(readFileSync(join(GOLDEN, "model.safetensors")));
    expect(existsSync(join(folder, "tokenizer.json"))).toBe(false); // optional, absent upstream
    model.dispose();
    local.dispose();

    // A second load is served from the cache: no request for the weights again.
    const before = hub.requests.filter((p) => p.endsWith("model.safetensors")).length;
    (await fromPretrained<GPT2LMHeadModel>("tester/golden-gpt2", { cacheDir: cache, fetch: hub.fetch })).dispose();
    expect(hub.requests.filter((p) => p.endsWith("model.safetensors")).length).toBe(before);
  });

  it("follows a sharded index", async () => {
    const hub = fakeHub("tester/sharded", {
      "config.json": golden("config.json"),
      "model.safetensors.index.json": new TextEncoder().encode(
        JSON.stringify({ weight_map: { "wte.weight": "model-00001-of-00001.safetensors" } }),
      ),
      "model-00001-of-00001.safetensors": golden("model.safetensors"),
    });
    const model = await fromPretrained<GPT2LMHeadModel>("tester/sharded", { cacheDir: cache, fetch: hub.fetch });
    expect(model.numParameters()).toBeGreaterThan(0);
    model.dispose();
  });

  it("says which file the repository lacks", async () => {
    const hub = fakeHub("tester/no-weights", { "config.json": golden("config.json") });
    await expect(fromPretrained("tester/no-weights", { cacheDir: cache, fetch: hub.fetch })).rejects.toThrow(
      /"tester\/no-weights" has neither model\.safetensors nor model\.safetensors\.index\.json/,
    );
  });
});
