import * as tf from "@tensorflow/tfjs";

/**
 * Runs `fn` and throws if it left more live tensors behind than `allowed` (for example the
 * tensors it returns). Used by tests and by long loops that must stay flat.
 */
export async function expectNoLeak<T>(fn: () => T | Promise<T>, allowed = 0): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const leaked = tf.memory().numTensors - before - allowed;
  if (leaked > 0) {
    throw new Error(`tensor leak: ${leaked} tensor(s) left alive after the call (allowed ${allowed})`);
  }
  return result;
}
