/** quant: NF4 / FP4 / int4 blockwise quantization, double quantization, packed 4-bit storage. */
export { NF4_CODE, FP4_CODE, INT4_CODE } from "./codes.js";
export type { QuantType } from "./codes.js";
export { quantize, dequantize, bitsPerParameter, quantizedBytes, blockAbsmax } from "./blockwise.js";
export type { QuantizeOptions, QuantizedTensor, DoubleQuantState } from "./blockwise.js";
export { Linear4bit } from "./linear4bit.js";
export { quantizeModel, prepareModelForKbitTraining, linear4bitLayers, packedParameterCount } from "./model.js";
export type { QuantizeModelOptions } from "./model.js";
export { estimateMemory, memoryShape, shapeParameterTensors, fourBitStorageBytes, adamw8bitStateBytes, MEMORY_PRESETS } from "./memory.js";
export type { EstimateMemoryOptions, MemoryEstimate, TransformerShape, ShapeParameterTensor } from "./memory.js";
