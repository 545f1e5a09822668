import * as tf from "@tensorflow/tfjs";
import { registerWasmKernels } from "./kernels/index.js";
import { loadNativeBlas, nativeBlasStatus, warnIfSlowPath } from "./native.js";

/** The backends lora-lab can run on, fastest first. */
export const BACKENDS = ["node-gpu", "node", "wasm", "cpu"] as const;
export type BackendChoice = (typeof BACKENDS)[number];

export interface ReadyOptions {
  /** Force one backend; otherwise `LORA_LAB_BACKEND`, otherwise the fastest that loads. */
  backend?: BackendChoice;
  /** Where the wasm binaries are served from (browsers and bundlers only). */
  wasmPaths?: string;
}

export interface EngineInfo {
  /** lora-lab's name for the backend in use. */
  backend: BackendChoice;
  /** TensorFlow.js's own backend name ("tensorflow" for both node backends). */
  tfBackend: string;
  /** TensorFlow.js version. */
  version: string;
  /** wasm only: whether matrix products run on the optional native BLAS addon, and if not, why and the fix. */
  nativeBlas?: { loaded: boolean; threads?: number; reason?: string; fix?: string };
}

// Held in a variable so that TypeScript and bundlers do not try to resolve optional packages.
const NODE_PACKAGES: Record<"node-gpu" | "node", string> = {
  "node-gpu": "@tensorflow/tfjs-node-gpu",
  node: "@tensorflow/tfjs-node",
};

let current: EngineInfo | undefined;

async function activate(choice: BackendChoice, opts: ReadyOptions): Promise<string> {
  if (choice === "node-gpu" || choice === "node") {
    const spec = NODE_PACKAGES[choice];
    await import(/* @vite-ignore */ spec);
    if (!(await tf.setBackend("tensorflow"))) throw new Error(`${spec} loaded but its backend did not start`);
    return "tensorflow";
  }
  if (choice === "wasm") {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    if (opts.wasmPaths) wasm.setWasmPaths(opts.wasmPaths);
    await loadNativeBlas();
    registerWasmKernels();
    if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend failed to initialise");
    return "wasm";
  }
  if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend failed to initialise");
  return "cpu";
}

function parseChoice(value: string, source: string): BackendChoice {
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendChoice;
  throw new Error(`${source} is "${value}"; expected one of ${BACKENDS.join(", ")}`);
}

/**
 * Picks and starts a TensorFlow.js backend: the forced one (opts.backend, then the
 * LORA_LAB_BACKEND environment variable), or else the fastest that loads. Calling it again with
 * the same request is free.
 */
export async function ready(opts: ReadyOptions = {}): Promise<EngineInfo> {
  const env = typeof process !== "undefined" ? process.env?.LORA_LAB_BACKEND : undefined;
  const forced = opts.backend ? parseChoice(opts.backend, "ready({ backend })") : env ? parseChoice(env, "LORA_LAB_BACKEND") : undefined;
  if (current && (forced === undefined || forced === current.backend) && tf.getBackend() === current.tfBackend) {
    return current;
  }
  const candidates = forced ? [forced] : [...BACKENDS];
  const failures: string[] = [];
  for (const choice of candidates) {
    try {
      const tfBackend = await activate(choice, opts);
      await tf.ready();
      current = { backend: choice, tfBackend, version: tf.version.tfjs };
      if (choice === "wasm") {
        const { path: _path, ...nativeBlas } = nativeBlasStatus();
        current.nativeBlas = nativeBlas;
        warnIfSlowPath();
      }
      return current;
    } catch (err) {
      const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
      failures.push(`${choice}: ${why}`);
    }
  }
  if (forced === "node-gpu" || forced === "node") {
    throw new Error(
      `backend "${forced}" was requested but is not available (${failures[0]}). ` +
        `Install it with \`npm install ${NODE_PACKAGES[forced]}\` or choose one of ${BACKENDS.join(", ")}.`,
    );
  }
  throw new Error(`no TensorFlow.js backend could start:\n  ${failures.join("\n  ")}`);
}

/** The engine chosen by the last `ready()`, or undefined before it. */
export function engineInfo(): EngineInfo | undefined {
  return current;
}
