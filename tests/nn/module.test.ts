import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { Conv1D, Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, RMSNorm } from "../../src/nn/index.js";

class Block extends Module {
  fc: Linear;
  ln: LayerNorm;
  constructor() {
    super();
    this.fc = this.registerModule("fc", new Linear(3, 2));
    this.ln = this.registerModule("ln", new LayerNorm(2));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.ln.forward(this.fc.forward(x));
  }
}

class Net extends Module {
  emb: Embedding;
  layers: ModuleList<Block>;
  head: Linear;
  constructor() {
    super();
    this.emb = this.registerModule("emb", new Embedding(5, 3));
    this.layers = this.registerModule("layers", new ModuleList([new Block(), new Block()]));
    this.head = this.registerModule("head", new Linear(2, 4, { bias: false }));
  }

  forward(ids: tf.Tensor): tf.Tensor {
    return this.head.forward(this.layers.at(0).forward(this.emb.forward(ids))); // [N, 3] -> [N, 2] -> [N, 4]
  }
}

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

describe("Module tree", () => {
  it("namedModules() gives dotted names depth first", () => {
    const net = new Net();
    expect([...net.namedModules().keys()]).toEqual([
      "emb",
      "layers",
      "layers.0",
      "layers.0.fc",
      "layers.0.ln",
      "layers.1",
      "layers.1.fc",
      "layers.1.ln",
      "head",
    ]);
    net.dispose();
  });

  it("namedParameters() and numParameters() count every scalar once", () => {
    const net = new Net();
    expect([...net.namedParameters().keys()]).toEqual([
      "emb.weight",
      "layers.0.fc.weight",
      "layers.0.fc.bias",
      "layers.0.ln.weight",
      "layers.0.ln.bias",
      "layers.1.fc.weight",
      "layers.1.fc.bias",
      "layers.1.ln.weight",
      "layers.1.ln.bias",
      "head.weight",
    ]);
    // 5*3 + 2 * (3*2 + 2 + 2 + 2) + 4*2
    expect(net.numParameters()).toBe(15 + 2 * 12 + 8);
    net.dispose();
  });

  it("requiresGrad per parameter drives trainableOnly counts and trainableVariables()", () => {
    const net = new Net();
    net.requiresGrad(false);
    net.head.weight.requiresGrad = true;
    expect(net.numParameters({ trainableOnly: true })).toBe(8);
    expect(net.trainableVariables()).toEqual([net.head.weight.variable]);
    const grads = tf.variableGrads(() => net.head.forward(tf.ones([1, 2])).sum(), net.trainableVariables());
    expect(Object.keys(grads.grads)).toEqual([net.head.weight.variable.name]);
    tf.dispose(grads.grads);
    grads.value.dispose();
    net.dispose();
  });

  it("loadStateDict(stateDict()) copies weights between two differently seeded nets", () => {
    seed(1);
    const a = new Net();
    seed(2);
    const b = new Net();
    expect(b.head.weight.variable.arraySync()).not.toEqual(a.head.weight.variable.arraySync());
    expect(b.loadStateDict(a.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    for (const [name, t] of Object.entries(a.stateDict())) expect(b.stateDict()[name].arraySync()).toEqual(t.arraySync());
    a.dispose();
    b.dispose();
  });

  it("loadStateDict strict names missing and unexpected keys; non-strict reports them", () => {
    const net = new Net();
    const dict = { ...net.stateDict(), "extra.weight": tf.zeros([1]) };
    delete (dict as Record<string, tf.Tensor>)["head.weight"];
    expect(() => net.loadStateDict(dict)).toThrow(/missing: head\.weight[\s\S]*unexpected: extra\.weight/);
    expect(net.loadStateDict(dict, { strict: false })).toEqual({ missingKeys: ["head.weight"], unexpectedKeys: ["extra.weight"] });
    dict["extra.weight"].dispose();
    net.dispose();
  });

  it("loadStateDict rejects a shape mismatch with both shapes", () => {
    const net = new Net();
    const bad = tf.zeros([4, 3]);
    expect(() => net.loadStateDict({ ...net.stateDict(), "head.weight": bad })).toThrow(
      /head\.weight: checkpoint \[4,3\] vs model \[4,2\]/,
    );
    bad.dispose();
    net.dispose();
  });

  it("setSubmodule replaces a child and the field that caches it", () => {
    const net = new Net();
    const replacement = new Linear(2, 4);
    const old = net.setSubmodule("head", replacement);
    expect(net.head).toBe(replacement);
    expect(net.getSubmodule("head")).toBe(replacement);
    const inner = new Linear(3, 2);
    net.setSubmodule("layers.1.fc", inner);
    expect(net.layers.at(1).fc).toBe(inner);
    expect(() => net.getSubmodule("layers.7")).toThrow(/no submodule "layers\.7".*layers\.0\.fc/);
    old.dispose();
    net.dispose();
  });

  it("forward through a typed tree: a Module<[Tensor], Tensor> is called without a cast; containers throw", () => {
    const net = new Net();
    const layer: Module<[tf.Tensor], tf.Tensor> = net.layers.at(0);
    const x = tf.tensor2d([[1, 2, 3]]);
    expect(layer.forward(x).shape).toEqual([1, 2]);
    expect(net.forward(tf.tensor1d([0, 4], "int32")).shape).toEqual([2, 4]);
    expect(() => net.layers.forward()).toThrow(/ModuleList holds modules by index/);
    net.dispose();
  });

  it("layers free the tensors they initialise their parameters from", () => {
    const before = tf.memory().numTensors;
    const layers = [new Linear(3, 2), new Conv1D(3, 2), new Embedding(4, 3), new LayerNorm(3), new RMSNorm(3)];
    expect(tf.memory().numTensors - before).toBe(2 + 2 + 1 + 2 + 1); // the parameters' variables only
    layers.forEach((l) => l.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it("train() and eval() reach every descendant", () => {
    const net = new Net();
    net.eval();
    expect([...net.namedModules().values()].every((m) => !m.training)).toBe(true);
    net.train();
    expect([...net.namedModules().values()].every((m) => m.training)).toBe(true);
    net.dispose();
  });
});

describe("layers", () => {
  it("Linear computes x W^T + b with W stored [out, in]", () => {
    const lin = new Linear(3, 2);
    lin.weight.assign(
      tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    );
    lin.bias!.assign(tf.tensor1d([0.5, -1]));
    const y = lin.forward(
      tf.tensor3d([
        [
          [1, 0, -1],
          [2, 1, 0],
        ],
      ]),
    );
    // by hand: [1-3+0.5, 4-6-1] and [2+2+0.5, 8+5-1]
    expect(y.arraySync()).toEqual([
      [
        [-1.5, -3],
        [4.5, 12],
      ],
    ]);
    expect(() => lin.forward(tf.ones([1, 4]))).toThrow(/last dimension 3, got shape \[1,4\]/);
    lin.dispose();
  });

  it("Conv1D computes x W + b with W stored [in, out] (GPT-2's layout)", () => {
    const conv = new Conv1D(2, 3);
    expect(conv.weight.shape).toEqual([2, 3]);
    conv.weight.assign(
      tf.tensor2d([
        [1, 2, 3],
        [4, 5, 6],
      ]),
    );
    conv.bias.assign(tf.tensor1d([1, 1, 1]));
    expect(conv.forward(tf.tensor2d([[1, -1]])).arraySync()).toEqual([[-2, -2, -2]]);
    conv.dispose();
  });

  it("Embedding looks rows up by id", () => {
    const emb = new Embedding(4, 2);
    emb.weight.assign(
      tf.tensor2d([
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
      ]),
    );
    expect(emb.forward(tf.tensor2d([[3, 0]], [1, 2], "int32")).arraySync()).toEqual([
      [
        [6, 7],
        [0, 1],
      ],
    ]);
    emb.dispose();
  });

  it("LayerNorm normalises with the biased variance, then scales and shifts", () => {
    const ln = new LayerNorm(4, 1e-5);
    ln.weight.assign(tf.tensor1d([1, 2, 1, 1]));
    ln.bias.assign(tf.tensor1d([0, 0, 1, 0]));
    const x = [1, 2, 3, 6];
    const mean = 3;
    const variance = (4 + 1 + 0 + 9) / 4;
    const expected = x.map((v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * [1, 2, 1, 1][i] + [0, 0, 1, 0][i]);
    const got = ln.forward(tf.tensor2d([x])).arraySync() as number[][];
    got[0].forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
    ln.dispose();
  });

  it("Dropout zeroes about p of the values and rescales the rest in training only", () => {
    seed(3);
    const drop = new Dropout(0.25);
    const out = drop.forward(tf.ones([10000])).dataSync();
    const zeros = out.filter((v) => v === 0).length;
    expect(Math.abs(zeros / 10000 - 0.25)).toBeLessThan(0.02); // binomial std ~0.004
    expect(out.filter((v) => v !== 0).every((v) => Math.abs(v - 4 / 3) < 1e-6)).toBe(true);
    drop.eval();
    expect(drop.forward(tf.ones([5])).dataSync()).toEqual(new Float32Array([1, 1, 1, 1, 1]));
    expect(() => new Dropout(1)).toThrow(/\[0, 1\)/);
  });

  it("the same seed gives the same initial weights", () => {
    seed(11);
    const a = new Linear(4, 4).weight.variable.arraySync();
    seed(11);
    const b = new Linear(4, 4).weight.variable.arraySync();
    expect(b).toEqual(a);
  });
});

describe("shared modules", () => {
  it("namedModules() lists a module shared by two parents once, under its first name", () => {
    class Shared extends Module {
      a: Embedding;
      b: Embedding;
      constructor() {
        super();
        this.a = this.registerModule("a", new Embedding(3, 2));
        this.b = this.registerModule("b", this.a);
      }

      forward(ids: tf.Tensor): tf.Tensor {
        return this.a.forward(ids);
      }
    }
    const m = new Shared();
    expect([...m.namedModules().keys()]).toEqual(["a"]);
    expect(m.getSubmodule("b")).toBe(m.a); // still reachable by its second path
    expect(m.numParameters()).toBe(6);
    m.dispose();
  });
});
