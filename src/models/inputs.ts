import * as tf from "@tensorflow/tfjs";

/** Token ids as users hold them: a tensor [B, T], nested arrays, or one sequence. */
export type TokenInput = tf.Tensor | number[][] | number[] | Int32Array;

/**
 * Turns token ids into an int32 [B, T] tensor, checking arrays for ragged rows and ids outside
 * the vocabulary. Targets may hold negative ids (ignored by the loss, like PyTorch's -100).
 */
export function toIdTensor(ids: TokenInput, vocabSize: number, what = "input ids", allowNegative = false): tf.Tensor2D {
  if (ids instanceof tf.Tensor) {
    if (ids.rank === 1) return ids.toInt().expandDims(0) as tf.Tensor2D;
    if (ids.rank !== 2) throw new Error(`${what} must be [batch, length], got shape [${ids.shape}]`);
    return (ids.dtype === "int32" ? ids.clone() : ids.toInt()) as tf.Tensor2D;
  }
  const rows: ArrayLike<number>[] = Array.isArray(ids) && Array.isArray(ids[0]) ? (ids as number[][]) : [ids as number[]];
  const len = rows[0]?.length ?? 0;
  if (len === 0) throw new Error(`${what} is empty`);
  const flat = new Int32Array(rows.length * len);
  rows.forEach((row, b) => {
    if (row.length !== len) throw new Error(`${what}: every row must have the same length (row 0 has ${len}, row ${b} has ${row.length})`);
    for (let t = 0; t < len; t++) {
      const v = row[t];
      if (!Number.isInteger(v) || v >= vocabSize || (v < 0 && !allowNegative)) {
        throw new Error(`${what}: token ${v} at [${b}, ${t}] is outside the vocabulary [0, ${vocabSize})`);
      }
      flat[b * len + t] = v;
    }
  });
  return tf.tensor2d(flat, [rows.length, len], "int32");
}

/** An attention mask (1 = attend, 0 = padding) as int32 [B, T], checked against the ids' shape; null when none is given. */
export function attentionMaskTensor(mask: TokenInput | undefined, ids: tf.Tensor2D): tf.Tensor2D | null {
  if (mask === undefined) return null;
  const m = toIdTensor(mask, 2, "attention mask");
  if (!tf.util.arraysEqual(m.shape, ids.shape)) {
    m.dispose();
    throw new Error(`attention mask shape [${m.shape}] does not match input ids shape [${ids.shape}]`);
  }
  return m;
}
