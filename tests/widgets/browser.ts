/** Headless Chromium (Debian's, driven by playwright-core) for the widget browser tests. */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = process.env.LORA_LAB_CHROMIUM ?? "/usr/bin/chromium";
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const SCREENSHOTS = join(ROOT, "tests/artifacts/screenshots");
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launch(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "lora-lab-widgets-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1140, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  return errors;
}

/** allStates()'s reply as a notebook's widget-state document (buffers base64, as nbclient saves them). */
export function widgetStateDocument(reply: { data: any; buffers: ArrayBufferView[] }): any {
  const state: Record<string, any> = {};
  for (const [id, s] of Object.entries<any>(reply.data.states)) state[id] = { ...s, buffers: [] };
  reply.data.buffer_paths.forEach((p: (string | number)[], i: number) => {
    const [id, ...path] = p;
    const b = reply.buffers[i];
    state[id as string].buffers.push({
      path,
      encoding: "base64",
      data: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64"),
    });
  });
  return { version_major: 2, version_minor: 0, state };
}
