/** PrefixTuningConfig: PEFT's PrefixTuningConfig without the projection (prefix_projection false). */

export interface PrefixTuningConfigFields {
  /** Learned positions per layer. Default 20 (PEFT's examples). */
  numVirtualTokens: number;
}

export interface PrefixTuningConfig extends PrefixTuningConfigFields {}

/** The config that makes getPeftModel add learned key/value prefixes to every attention layer. */
export class PrefixTuningConfig {
  readonly peftType = "PREFIX_TUNING";

  constructor(fields: Partial<PrefixTuningConfigFields> = {}) {
    this.numVirtualTokens = fields.numVirtualTokens ?? 20;
    const P = this.numVirtualTokens;
    if (!Number.isInteger(P) || P <= 0) throw new Error(`numVirtualTokens must be a positive integer, got ${P}`);
  }
}
