import * as tf from "@tensorflow/tfjs";
import { afterEach, describe, expect, it } from "vitest";
import { ready, seed, random, engineInfo } from "../../src/engine/index.js";

describe("ready()", () => {
  afterEach(() => {
    delete process.env.LORA_LAB_BACKEND;
  });

  it("picks wasm when the node backends are not installed", async () => {
    const info = await ready();
    expect(info.backend).toBe("wasm");
    expect(info.version).toBe(tf.version.tfjs);
    expect(tf.getBackend()).toBe("wasm");
    expect(engineInfo()).toEqual(info);
  });

  it("forces the cpu backend through opts.backend, and back to wasm", async () => {
    expect((await ready({ backend: "cpu" })).backend).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    expect((await ready({ backend: "wasm" })).backend).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
  });

  it("forces a backend through LORA_LAB_BACKEND", async () => {
    process.env.LORA_LAB_BACKEND = "cpu";
    expect((await ready()).backend).toBe("cpu");
    process.env.LORA_LAB_BACKEND = "wasm";
    expect((await ready()).backend).toBe("wasm");
  });

  it("names the package to install when a forced node backend is missing", async () => {
    await expect(ready({ backend: "node" })).rejects.toThrow(/npm install @tensorflow\/tfjs-node\b/);
    await expect(ready({ backend: "node-gpu" })).rejects.toThrow(/npm install @tensorflow\/tfjs-node-gpu/);
  });

  it("rejects an unknown backend name and lists the valid ones", async () => {
    process.env.LORA_LAB_BACKEND = "cuda";
    await expect(ready()).rejects.toThrow(/LORA_LAB_BACKEND is "cuda"; expected one of node-gpu, node, wasm, cpu/);
    // @ts-expect-error: checking the runtime error for callers without types
    await expect(ready({ backend: "metal" })).rejects.toThrow(/expected one of/);
  });
});

describe("seed()", () => {
  it("makes the global generator repeat", () => {
    seed(42);
    const a = [random(), random(), random()];
    seed(42);
    expect([random(), random(), random()]).toEqual(a);
    seed(43);
    expect(random()).not.toBe(a[0]);
  });

  it("gives uniform draws in [0, 1) with the right mean", () => {
    seed(7);
    let sum = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const u = random();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    // The mean of n uniforms has std 1/sqrt(12 n) ~ 0.002: 5 sigma.
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
  });

  it("rejects a non-integer seed", () => {
    expect(() => seed(1.5)).toThrow(/integer/);
  });
});
