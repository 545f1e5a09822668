#!/usr/bin/env node
import { DEMO_USAGE, demoCommand } from "./demo_command.js";
import { PRETRAIN_USAGE, pretrainCommand } from "./pretrain_command.js";
import { INSTALL_USAGE, KERNEL_USAGE, installCommand, kernelCommand } from "./kernel_commands.js";
import { BUILD_NATIVE_USAGE, buildNativeCommand } from "./build_native_command.js";

/** One entry per command: its usage lines and its runner (each command lives in its own file). */
const COMMANDS: Record<string, { usage: string; run: (args: string[]) => Promise<number> }> = {
  demo: { usage: DEMO_USAGE, run: demoCommand },
  pretrain: { usage: PRETRAIN_USAGE, run: pretrainCommand },
  install: { usage: INSTALL_USAGE, run: installCommand },
  kernel: { usage: KERNEL_USAGE, run: kernelCommand },
  "build-native": { usage: BUILD_NATIVE_USAGE, run: buildNativeCommand },
};

function usage(): string {
  const lines = Object.values(COMMANDS).map((c) => c.usage);
  return `usage: lora-lab <command> [options]\n\ncommands:\n${lines.join("\n")}\n  help     show this text`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    console.log(usage());
    return 0;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    console.error(`lora-lab: unknown command "${command}"\n\n${usage()}`);
    return 2;
  }
  return entry.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`lora-lab: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
