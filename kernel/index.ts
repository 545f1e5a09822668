/**
 * The lora-lab Jupyter kernel: tslab's executor and converter with Jupyter comms, HMAC as the spec
 * says, execute_result / error replies, per-message parents, interrupts through an AbortSignal and
 * a multi-MIME display hook. `installKernelSpec` is light; `runKernel` loads tslab on demand.
 */
export { DEFAULT_KERNEL_NAME, DISPLAY_NAME, dataDirFor, installKernelSpec, kernelSpec, userDataDir } from "./install.js";
export type { InstallOptions, InstallTarget, KernelSpec } from "./install.js";
export { COMMS_KEY } from "./comms.js";
export type { Comm, CommManager, CommMsg, CommTargetHandler } from "./comms.js";

export async function runKernel(connectionFile: string): Promise<import("./start.js").RunningKernel> {
  const { runKernel: run } = await import("./start.js");
  return run(connectionFile);
}
