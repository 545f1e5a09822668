/** io: safetensors read/write with strict validation, and atomic file writes. */
export { DTYPE_BYTES, SafetensorsError } from "./dtypes.js";
export type { SafeTensor, SafetensorsDtype, SafetensorsErrorCode, TensorData } from "./dtypes.js";
export { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from "./safetensors.js";
export type { SafetensorsFile } from "./safetensors.js";
export { fromFloat32, toFloat32 } from "./convert.js";
export { writeFileAtomic } from "./atomic.js";
