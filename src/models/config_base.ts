import { ConfigSchema, presetFields, type FieldTable } from "../io/index.js";

/** What a model family's config class declares about itself (static fields), beyond its field table. */
export interface ConfigClass<C, F> {
  new (fields?: Partial<F>): C;
  readonly schema: ConfigSchema<FieldTable>;
  readonly presets: Record<string, Partial<F>>;
  /** The family's name in messages: "GPT-2". */
  readonly family: string;
  /** config.json's model_type. */
  readonly modelType: string;
  /** Keys written before the fields in config.json (architectures, model_type, ...). */
  readonly jsonHeader: Record<string, unknown>;
}

/**
 * transformers' PretrainedConfig, the part every family shares: named presets, config.json in and
 * out, unknown-key errors (those come from the family's schema). A family is a field table and a
 * few static facts; its constructor adds only the checks that span several fields.
 */
export abstract class PretrainedConfig {
  /** A named shape with some fields changed. */
  static preset<C, F>(this: ConfigClass<C, F>, name: string, overrides: Partial<F> = {}): C {
    return new this({ ...presetFields(this.presets, name, this.family), ...overrides });
  }

  /** Reads Hugging Face's config.json; keys the family does not use are ignored. */
  static fromJSON<C, F>(this: ConfigClass<C, F>, json: Record<string, unknown>): C {
    if (json.model_type !== undefined && json.model_type !== this.modelType) {
      throw new Error(`config.json has model_type "${String(json.model_type)}", expected "${this.modelType}"`);
    }
    return new this(this.schema.readJSON(json) as Partial<F>);
  }

  /** Hugging Face's config.json for this model. */
  toJSON(): Record<string, unknown> {
    const cls = this.constructor as unknown as ConfigClass<this, unknown>;
    return { ...cls.jsonHeader, ...cls.schema.writeJSON(this) };
  }
}
