import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { readSafetensors } from "../../src/io/index.js";
import { fromPretrained, gpt2, type GPT2LMHeadModel } from "../../src/models/index.js";
import { getPeftModel, PeftModel } from "../../src/peft/index.js";

const GOLDEN = fileURLToPath(new URL("../fixtures/gpt2-golden", import.meta.url));
const ADAPTER = fileURLToPath(new URL("../fixtures/peft-adapter", import.meta.url));
// Made by tests/fixtures/make_peft_adapter.py: PEFT's file format written by hand, logits from PyTorch.
const expected = JSON.parse(readFileSync(join(ADAPTER, "expected.json"), "utf8")) as {
  input_ids: number[][];
  logits: number[];
  logits_shape: number[];
  trainable_params: number;
  keys: string[];
};
const fixtureConfig = JSON.parse(readFileSync(join(ADAPTER, "adapter_config.json"), "utf8")) as Record<string, unknown>;

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
});

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const tmp = () => mkdtempSync(join(tmpdir(), "lora-lab-peft-"));

describe("adapter folders in PEFT's format", () => {
  it("loads an adapter written as Python PEFT writes it and gives PyTorch's logits (1e-4)", async () => {
    const base = await fromPretrained<GPT2LMHeadModel>(GOLDEN);
    const model = await PeftModel.fromPretrained(base, ADAPTER);
    model.eval();
    const logits = model.forward(expected.input_ids);
    expect(logits.shape).toEqual(expected.logits_shape);
    expect(maxAbsDiff(logits.dataSync(), expected.logits)).toBeLessThan(1e-4);
    logits.dispose();
    expect(model.getNbTrainableParameters()[0]).toBe(0); // loaded for inference, as PEFT's default
    const trainable = await PeftModel.fromPretrained(await fromPretrained<GPT2LMHeadModel>(GOLDEN), ADAPTER, { isTrainable: true });
    expect(trainable.getNbTrainableParameters()[0]).toBe(expected.trainable_params);
  });

  it("saves JSON keys, value forms and tensor names that match PEFT's, and reads them back", async () => {
    const base = await fromPretrained<GPT2LMHeadModel>(GOLDEN);
    const model = await PeftModel.fromPretrained(base, ADAPTER, { isTrainable: true });
    const dir = tmp();
    await model.savePretrained(dir);
    const json = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8")) as Record<string, unknown>;
    expect(Object.keys(json).sort()).toEqual(Object.keys(fixtureConfig).sort());
    expect(json).toEqual(fixtureConfig);
    const file = await readSafetensors(join(dir, "adapter_model.safetensors"));
    expect(file.metadata).toEqual({ format: "pt" });
    expect(Object.keys(file.tensors).sort()).toEqual(expected.keys);
    expect(file.tensors["base_model.model.transformer.h.1.attn.c_attn.lora_A.weight"].shape).toEqual([4, 48]);
    expect(file.tensors["base_model.model.transformer.h.1.attn.c_attn.lora_B.weight"].shape).toEqual([144, 4]);
    expect(existsSync(join(dir, "README.md"))).toBe(true);
    const again = await PeftModel.fromPretrained(await fromPretrained<GPT2LMHeadModel>(GOLDEN), dir);
    const logits = again.forward(expected.input_ids);
    expect(maxAbsDiff(logits.dataSync(), expected.logits)).toBeLessThan(1e-4);
    logits.dispose();
  });

  it("round-trips a fresh gpt2 adapter with the resolved default targets, and puts other adapters in subfolders", async () => {
    seed(3);
    const model = getPeftModel(gpt2("tiny"), { r: 4, taskType: "CAUSAL_LM" });
    for (const [name, p] of model.namedParameters()) {
      if (!name.includes("lora_")) continue;
      const v = tf.randomNormal(p.shape, 0, 0.05);
      p.assign(v);
      v.dispose();
    }
    model.addAdapter("second", { r: 2, targetModules: ["c_fc"] });
    const dir = tmp();
    await model.savePretrained(dir);
    const json = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8")) as Record<string, unknown>;
    expect(json.target_modules).toEqual(["c_attn"]);
    expect(json.fan_in_fan_out).toBe(true);
    expect(existsSync(join(dir, "second", "adapter_model.safetensors"))).toBe(true);
    const ids = [[1, 2, 3, 4]];
    const want = model.forward(ids);
    seed(99);
    const base2 = gpt2("tiny");
    base2.loadStateDict(
      Object.fromEntries(
        Object.entries(model.baseModel.stateDict())
          .filter(([k]) => !k.includes("lora_"))
          .map(([k, v]) => [k.replace(".base_layer", ""), v]),
      ),
    );
    const loaded = await PeftModel.fromPretrained(base2, dir);
    await loaded.loadAdapter(join(dir, "second"), "second");
    expect(Object.keys(loaded.peftConfig)).toEqual(["default", "second"]);
    const got = loaded.forward(ids);
    expect(maxAbsDiff(got.dataSync(), want.dataSync())).toBeLessThan(1e-6);
    tf.dispose([want, got]);
  });

  it("errors name the file and the keys that do not match", async () => {
    seed(4);
    await expect(PeftModel.fromPretrained(gpt2("tiny"), "/nonexistent/adapter")).rejects.toThrow(
      /cannot read \/nonexistent\/adapter\/adapter_config.json/,
    );
    // the fixture's model is 48 wide; the tiny preset is 128 wide
    await expect(PeftModel.fromPretrained(gpt2("tiny"), ADAPTER)).rejects.toThrow(/file has shape \[4,48\], the adapter expects \[4,128\]/);
  });
});
