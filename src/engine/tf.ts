import * as tf from "@tensorflow/tfjs";

// Re-exported as `lab.tf`, so that notebooks and library code share one TensorFlow.js instance. It is
// also the module a user's own `import * as tf from "@tensorflow/tfjs"` gets: TensorFlow.js is a
// peer dependency, installed once beside lora-lab, never a private copy of it.
export { tf };
