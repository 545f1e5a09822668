import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// These run the built package (npm test builds dist/ first), as a user's plain Node would.
const root = fileURLToPath(new URL("..", import.meta.url));
const node = (args: string[], env: Record<string, string> = {}) =>
  execFileSync(process.execPath, args, {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000,
    stdio: ["ignore", "pipe", "pipe"],
  });

describe("the lora-lab package", () => {
  it("imports as `lora-lab` from plain Node by self-reference and starts wasm", () => {
    const out = node([
      "--input-type=module",
      "-e",
      `import * as lab from "lora-lab";
       const info = await lab.ready();
       lab.seed(0);
       const m = lab.gpt2("tiny");
       console.log(JSON.stringify({ info, n: m.numParameters(), names: [...m.namedModules().keys()].slice(0, 3) }));`,
    ]);
    const result = JSON.parse(out.trim().split("\n").pop()!);
    expect(result.info).toMatchObject({ backend: "wasm", version: "4.22.0" });
    expect(result.n).toBe(834_304);
    expect(result.names).toEqual(["transformer", "transformer.wte", "transformer.wpe"]);
  });

  it("loads through require() too, as tslab's CommonJS cells do", () => {
    const out = node(["-e", `const lab = require("lora-lab"); console.log(typeof lab.ready, typeof lab.gpt2, typeof lab.fromPretrained)`]);
    expect(out.trim().split("\n").pop()).toBe("function function function");
  });

  it("declares TensorFlow.js a peer (one instance for the user and lora-lab), the node backends optional peers", () => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, "utf8"));
    expect(pkg.dependencies["@tensorflow/tfjs"]).toBeUndefined();
    expect(pkg.peerDependencies["@tensorflow/tfjs"]).toBe(pkg.devDependencies["@tensorflow/tfjs"]);
    expect(pkg.peerDependenciesMeta["@tensorflow/tfjs"]).toBeUndefined();
    expect(pkg.dependencies["@tensorflow/tfjs-node"]).toBeUndefined();
    expect(pkg.peerDependenciesMeta["@tensorflow/tfjs-node"]).toEqual({ optional: true });
    expect(pkg.peerDependenciesMeta["@tensorflow/tfjs-node-gpu"]).toEqual({ optional: true });
    expect(pkg.bin["lora-lab"]).toBe("dist/cli/main.js");
    expect(pkg.exports["."].types).toBe("./dist/index.d.ts");
  });

  it("the CLI prints its usage and rejects an unknown command", () => {
    expect(node(["dist/cli/main.js", "help"])).toMatch(/usage: lora-lab <command>[\s\S]*demo[\s\S]*build-native/);
    expect(() => node(["dist/cli/main.js", "frobnicate"])).toThrow(/unknown command "frobnicate"/);
  });

  it("the CLI reports a forced backend that is not installed", () => {
    expect(() => node(["dist/cli/main.js", "demo", "--backend", "node-gpu", "--steps", "1"])).toThrow(
      /npm install @tensorflow\/tfjs-node-gpu/,
    );
  });
});
