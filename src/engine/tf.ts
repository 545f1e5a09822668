import * as tf from "@tensorflow/tfjs";

// Re-exported so that notebooks and library code share one TensorFlow.js instance.
export { tf };
