import { options, optionsUsage, parseOptions } from "./args.js";
import { buildNativeAddon, loadAddonFile } from "../engine/native.js";

const BUILD_NATIVE_OPTIONS = options({
  out: {
    kind: "string",
    placeholder: "file",
    help: "where to write it (then set LORA_LAB_NATIVE_PATH to it)\n",
    defaultText: "dist/native/ in the package if writable, else $XDG_CACHE_HOME/lora-lab or ~/.cache/lora-lab",
  },
});

export const BUILD_NATIVE_USAGE = `  build-native
           (re)build the native BLAS addon the wasm backend's speed depends on (needs a C compiler and
           OpenBLAS: apt-get install gcc libopenblas-dev); ready() also builds it on first use
${optionsUsage(BUILD_NATIVE_OPTIONS)}`;

/** Builds the addon where ready() looks for it (or at --out), loads it once to prove it works, and says where. */
export async function buildNativeCommand(rest: string[]): Promise<number> {
  const o = parseOptions(BUILD_NATIVE_OPTIONS, rest);
  const built = await buildNativeAddon({ out: o.out, force: true });
  if (!built.ok) {
    console.error(`lora-lab build-native: not built: ${built.reason}.${built.fix ? ` To fix: ${built.fix}.` : ""}`);
    return 1;
  }
  const threads = (await loadAddonFile(built.out)).threads();
  console.log(`built ${built.out} in ${(built.seconds ?? 0).toFixed(1)} s; it loads (OpenBLAS on ${threads} threads)`);
  if (process.env.LORA_LAB_NATIVE === "0") console.log("note: LORA_LAB_NATIVE=0 is set, so lora-lab will not use it until it is unset");
  return 0;
}
