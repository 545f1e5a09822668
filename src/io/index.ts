/** io: safetensors read/write with strict validation, atomic file writes, and config tables (camelCase fields, snake_case JSON). */
export { DTYPE_BYTES, SafetensorsError } from "./dtypes.js";
export type { SafeTensor, SafetensorsDtype, SafetensorsErrorCode, TensorData } from "./dtypes.js";
export { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from "./safetensors.js";
export type { SafetensorsFile } from "./safetensors.js";
export { fromFloat32, toFloat32 } from "./convert.js";
export { leftBehind, writeDirectoryAtomic, writeFileAtomic, writeFilesAtomic } from "./atomic.js";
export type { WriteFilesOptions } from "./atomic.js";
export { ConfigSchema, field, snakeCase, presetFields, positiveInt, positive, probability, nullOr, oneOf } from "./config_fields.js";
export type { Check, FieldSpec, FieldTable, FieldsOf, ConfigSchemaOptions } from "./config_fields.js";
