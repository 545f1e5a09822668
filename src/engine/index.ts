export { ready, engineInfo, BACKENDS } from "./backend.js";
export type { BackendChoice, ReadyOptions, EngineInfo } from "./backend.js";
export { seed, getSeed, random, nextSeed, makeRng } from "./random.js";
export { expectNoLeak } from "./leaks.js";
export { registerWasmKernels, setWasmMatMulFastPath, WASM_KERNELS } from "./kernels/index.js";
export { tf } from "./tf.js";
