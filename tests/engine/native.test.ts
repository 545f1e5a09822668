import * as tf from "@tensorflow/tfjs";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

// The optional native matmul (N-API on OpenBLAS): built here into a temporary folder from
// src/engine/native/blas.c, loaded through LORA_LAB_NATIVE_PATH, and compared with the cpu backend.
const out = join(mkdtempSync(join(tmpdir(), "lora-lab-native-")), "lora_lab_blas.node");
let built = false;
let buildMessage = "";

beforeAll(() => {
  try {
    buildMessage = execFileSync(process.execPath, ["src/engine/native/build.mjs", "--strict", "--out", out], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    built = true;
  } catch (err) {
    buildMessage = String((err as { stderr?: string }).stderr ?? err);
  }
  process.env.LORA_LAB_NATIVE_PATH = out;
});

describe("native BLAS matmul", () => {
  it("ready() uses it when it builds, and otherwise says why and stays on wasm", async () => {
    const { ready, nativeBlasStatus } = await import("../../src/engine/index.js");
    const info = await ready({ backend: "wasm" });
    expect(info.backend).toBe("wasm");
    if (built) {
      expect(nativeBlasStatus()).toMatchObject({ loaded: true, path: out });
      expect(info.nativeBlas?.threads).toBeGreaterThan(0);
    } else {
      expect(buildMessage).toMatch(/not built: .*(compiler|OpenBLAS|node_api\.h)/);
      expect(nativeBlasStatus().loaded).toBe(false);
      expect(nativeBlasStatus().reason).toBeTruthy();
    }
  });

  it("multiplies like the cpu backend for every transpose flag, batched and broadcast operands", async () => {
    const { ready } = await import("../../src/engine/index.js");
    const shapes: Array<[number[], number[], boolean, boolean]> = [
      [[37, 19], [19, 23], false, false], [[19, 37], [19, 23], true, false], [[37, 19], [23, 19], false, true],
      [[19, 37], [23, 19], true, true], [[2, 3, 9, 8], [2, 3, 7, 8], false, true], [[6, 8, 9], [1, 8, 7], true, false],
      [[9, 8], [4, 8, 7], false, false], [[5, 0], [0, 4], false, false],
    ];
    for (const [sa, sb, ta, tb] of shapes) {
      const product = () =>
        tf.tidy(() => {
          const a = tf.tensor(Array.from({ length: sa.reduce((x, y) => x * y, 1) }, (_, i) => Math.cos(i * 0.3)), sa);
          const b = tf.tensor(Array.from({ length: sb.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(i * 0.7)), sb);
          const c = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, ta, tb);
          return { shape: c.shape, data: Array.from(c.dataSync()) };
        });
      await ready({ backend: "cpu" });
      const ref = product();
      await ready({ backend: "wasm" });
      const got = product();
      expect(got.shape).toEqual(ref.shape);
      got.data.forEach((v, i) => expect(v).toBeCloseTo(ref.data[i], 4));
    }
  });
});
