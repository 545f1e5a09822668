import * as tf from "@tensorflow/tfjs";
import { Parameter } from "./parameter.js";

export interface LoadStateDictOptions {
  /** Throw on missing or unexpected keys (shapes are always checked). Default true. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * A node of the model tree, named as in the Hugging Face checkpoints: a child registered as
 * "attn" under "transformer.h.0" is "transformer.h.0.attn". Parameters and children keep their
 * registration order, which is the order of `namedParameters()` and of state dicts.
 *
 * `In` and `Out` type `forward`: `Linear extends Module<[tf.Tensor], tf.Tensor>`, so code holding
 * a `Module<[tf.Tensor], tf.Tensor>` (a wrapped base layer) calls it without a cast. The defaults
 * accept any signature, so `class X extends Module { forward(ids: tf.Tensor2D): tf.Tensor3D }`
 * compiles as before, and a plain `Module` promises nothing about its output (`unknown`).
 */
export abstract class Module<In extends unknown[] = any[], Out = unknown> {
  training = true;
  protected readonly _parameters = new Map<string, Parameter>();
  protected readonly _modules = new Map<string, Module>();

  /**
   * The module's computation. Containers that only hold children (`ModuleList`) throw, as
   * PyTorch's do.
   */
  abstract forward(...inputs: In): Out;

  /** Short class name shown in summaries and errors. */
  get typeName(): string {
    return this.constructor.name;
  }

  protected registerParameter(name: string, value: tf.Tensor | Parameter, requiresGrad = true): Parameter {
    const param = value instanceof Parameter ? value : new Parameter(value, requiresGrad, name);
    this._parameters.set(name, param);
    return param;
  }

  /** registerParameter for a tensor made only to initialise it: the parameter takes it over (frees it). */
  protected registerInitialized(name: string, value: tf.Tensor, requiresGrad = true): Parameter {
    const param = this.registerParameter(name, value, requiresGrad);
    value.dispose();
    return param;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this._modules.set(name, module);
    return module;
  }

  /** Direct parameters of this module (not of its children), by local name. */
  ownParameters(): Map<string, Parameter> {
    return new Map(this._parameters);
  }

  /** Direct children, by local name. */
  children(): Map<string, Module> {
    return new Map(this._modules);
  }

  /**
   * Every descendant module by dotted name (the root itself excluded), depth first. A module
   * shared by two parents (T5's `shared` embedding) appears once, under its first name, as in
   * PyTorch's named_modules().
   */
  namedModules(prefix = ""): Map<string, Module> {
    const out = new Map<string, Module>();
    const seen = new Set<Module>([this]);
    const walk = (module: Module, path: string) => {
      for (const [name, child] of module._modules) {
        if (seen.has(child)) continue;
        seen.add(child);
        const full = path ? `${path}.${name}` : name;
        out.set(full, child);
        walk(child, full);
      }
    };
    walk(this, prefix);
    return out;
  }

  /**
   * Every parameter by dotted name. A parameter shared by two modules (GPT-2's tied `lm_head`)
   * appears once, under its first name, as in PyTorch.
   */
  namedParameters(): Map<string, Parameter> {
    const out = new Map<string, Parameter>();
    const seen = new Set<Parameter>();
    for (const [name, param] of this.allParameterEntries()) {
      if (seen.has(param)) continue;
      seen.add(param);
      out.set(name, param);
    }
    return out;
  }

  parameters(): Parameter[] {
    return [...this.namedParameters().values()];
  }

  /** Number of scalar parameters (shared ones counted once). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    let total = 0;
    for (const p of this.parameters()) if (!opts.trainableOnly || p.requiresGrad) total += p.size;
    return total;
  }

  /** The tfjs variables that currently require gradients. */
  trainableVariables(): tf.Variable[] {
    return this.parameters()
      .filter((p) => p.requiresGrad)
      .map((p) => p.variable);
  }

  /** Sets `requiresGrad` on every parameter of this subtree. */
  requiresGrad(value: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = value;
    return this;
  }

  /**
   * Name -> tensor for every parameter, tied ones under each of their names, as PyTorch's
   * state_dict. The tensors are the live variables: read them, do not dispose them.
   */
  stateDict(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, param] of this.allParameterEntries()) out[name] = param.variable;
    return out;
  }

  /** Copies values into the parameters by name, checking every shape. */
  loadStateDict(dict: Record<string, tf.Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const own = new Map(this.allParameterEntries());
    const missingKeys = [...own.keys()].filter((k) => !(k in dict));
    const unexpectedKeys = Object.keys(dict).filter((k) => !own.has(k));
    if (strict && (missingKeys.length || unexpectedKeys.length)) {
      throw new Error(
        `loadStateDict: keys do not match the ${this.typeName}.` +
          (missingKeys.length ? `\n  missing: ${missingKeys.join(", ")}` : "") +
          (unexpectedKeys.length ? `\n  unexpected: ${unexpectedKeys.join(", ")}` : "") +
          `\n  (pass { strict: false } to load the keys that match)`,
      );
    }
    const mismatched: string[] = [];
    for (const [name, param] of own) {
      const value = dict[name];
      if (value && !tf.util.arraysEqual(value.shape, param.shape)) {
        mismatched.push(`${name}: checkpoint [${value.shape}] vs model [${param.shape}]`);
      }
    }
    if (mismatched.length) throw new Error(`loadStateDict: shape mismatch\n  ${mismatched.join("\n  ")}`);
    for (const [name, param] of own) if (dict[name]) param.assign(dict[name]);
    return { missingKeys, unexpectedKeys };
  }

  /** The module at a dotted path; the error lists the names that exist. */
  getSubmodule(path: string): Module {
    if (path === "") return this;
    let current: Module | undefined = this;
    for (const part of path.split(".")) current = current?._modules.get(part);
    if (!current) {
      throw new Error(`no submodule "${path}" in ${this.typeName}; modules: ${[...this.namedModules().keys()].join(", ")}`);
    }
    return current;
  }

  /** Replaces the module at a dotted path (how adapters wrap a layer). Returns the old one. */
  setSubmodule(path: string, module: Module): Module {
    const dot = path.lastIndexOf(".");
    const parent = dot < 0 ? this : this.getSubmodule(path.slice(0, dot));
    const local = path.slice(dot + 1);
    const old = parent._modules.get(local);
    if (!old) throw new Error(`no submodule "${path}" in ${this.typeName} to replace`);
    parent._modules.set(local, module);
    parent.onChildReplaced(local, module);
    return old;
  }

  /** Keeps a field that caches a child (`this.c_attn`) pointing at its replacement. */
  protected onChildReplaced(name: string, module: Module): void {
    const self = this as unknown as Record<string, unknown>;
    if (Object.prototype.hasOwnProperty.call(self, name) && self[name] instanceof Module) self[name] = module;
  }

  /** Switches this subtree to training (dropout on) or evaluation mode. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this._modules.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter's memory. The module is unusable afterwards. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }

  private *allParameterEntries(prefix = ""): Generator<[string, Parameter]> {
    for (const [name, param] of this._parameters) yield [prefix ? `${prefix}.${name}` : name, param];
    for (const [name, child] of this._modules) yield* child.allParameterEntries(prefix ? `${prefix}.${name}` : name);
  }
}
