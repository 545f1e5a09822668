/**
 * fromPretrained with a hub id and no hub: models a user downloaded with Python are read from the
 * Hugging Face cache (built here as huggingface_hub lays it out: blobs/, refs/<revision> holding
 * a commit hash, snapshots/<hash>/ of links into blobs/), HF_HUB_OFFLINE never touches the
 * network, and a hub that cannot be reached gets an error that says where lora-lab looked.
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ready } from "../../src/engine/index.js";
import { huggingFaceCacheDir, hubOffline } from "../../src/models/hub.js";
import { fromPretrained, pretrainedFolder, type GPT2LMHeadModel } from "../../src/models/index.js";

const GOLDEN = fileURLToPath(new URL("../fixtures/gpt2-golden", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "lora-lab-hub-offline-"));
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** Node's fetch when the machine is offline: undici's TypeError with the DNS error as its cause. */
function offlineFetch() {
  return vi.fn(async () => {
    const cause = Object.assign(new Error("getaddrinfo ENOTFOUND huggingface.co"), {
      errno: -3008,
      code: "ENOTFOUND",
      syscall: "getaddrinfo",
      hostname: "huggingface.co",
    });
    throw new TypeError("fetch failed", { cause });
  }) as unknown as typeof fetch & { mock: { calls: unknown[] } };
}

/** A huggingface_hub cache entry for `repo` with `files` (name -> bytes), as Python leaves it. */
function pythonCache(cache: string, repo: string, files: Record<string, Uint8Array>, ref: string | undefined = "main"): string {
  const dir = join(cache, `models--${repo.replace("/", "--")}`);
  const snapshot = join(dir, "snapshots", COMMIT);
  mkdirSync(join(dir, "blobs"), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    const blob = createHash("sha256").update(bytes).digest("hex");
    writeFileSync(join(dir, "blobs", blob), bytes);
    symlinkSync(join("..", "..", "blobs", blob), join(snapshot, name));
  }
  if (ref) {
    mkdirSync(join(dir, "refs"), { recursive: true });
    writeFileSync(join(dir, "refs", ref), COMMIT); // huggingface_hub writes the hash without a newline
  }
  return snapshot;
}

const golden = (f: string) => new Uint8Array(readFileSync(join(GOLDEN, f)));
const env = [
  "HF_HOME",
  "HF_HUB_CACHE",
  "HUGGINGFACE_HUB_CACHE",
  "XDG_CACHE_HOME",
  "HF_HUB_OFFLINE",
  "TRANSFORMERS_OFFLINE",
  "LORA_LAB_CACHE",
];
const saved = Object.fromEntries(env.map((k) => [k, process.env[k]]));
let n = 0;
let hfCache = "";
let loraCache = "";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});
beforeEach(() => {
  for (const k of env) delete process.env[k];
  hfCache = join(root, `hf-${n}`);
  loraCache = join(root, `lora-${n++}`);
  mkdirSync(hfCache);
  process.env.HF_HUB_CACHE = hfCache;
  process.env.LORA_LAB_CACHE = loraCache;
});
afterEach(() => {
  for (const k of env)
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const logits = (m: GPT2LMHeadModel) => {
  const out = m.forward([[1, 2, 3, 4]]);
  const data = out.dataSync().slice();
  out.dispose();
  m.dispose();
  return data;
};

describe("fromPretrained(hubId) from the Hugging Face cache", () => {
  it("loads a model Python downloaded (refs/main -> snapshots/<hash>) without a request, even with the network down", async () => {
    const snapshot = pythonCache(hfCache, "tester/golden-gpt2", {
      "config.json": golden("config.json"),
      "model.safetensors": golden("model.safetensors"),
    });
    const fetch = offlineFetch();
    expect(await pretrainedFolder("tester/golden-gpt2", { fetch })).toBe(snapshot);
    const model = await fromPretrained<GPT2LMHeadModel>("tester/golden-gpt2", { fetch });
    expect(logits(model)).toEqual(logits(await fromPretrained<GPT2LMHeadModel>(GOLDEN)));
    expect(fetch.mock.calls).toHaveLength(0);
  });

  it("takes a commit hash as the revision, and finds the cache under HF_HOME/hub when HF_HUB_CACHE is unset", async () => {
    delete process.env.HF_HUB_CACHE;
    process.env.HF_HOME = join(root, `home-${n}`);
    const snapshot = pythonCache(
      join(process.env.HF_HOME, "hub"),
      "gpt2",
      { "config.json": golden("config.json"), "model.safetensors": golden("model.safetensors") },
      undefined,
    );
    expect(await pretrainedFolder("gpt2", { revision: COMMIT, fetch: offlineFetch() })).toBe(snapshot);
  });

  it("resolves the cache folder as huggingface_hub does", () => {
    delete process.env.HF_HUB_CACHE;
    process.env.XDG_CACHE_HOME = "/x";
    expect(huggingFaceCacheDir()).toBe("/x/huggingface/hub");
    process.env.HF_HOME = "/h";
    expect(huggingFaceCacheDir()).toBe("/h/hub");
    process.env.HUGGINGFACE_HUB_CACHE = "/old";
    expect(huggingFaceCacheDir()).toBe("/old");
    process.env.HF_HUB_CACHE = "/new";
    expect(huggingFaceCacheDir()).toBe("/new");
  });
});

describe("fromPretrained(hubId) when the hub cannot be reached", () => {
  it("says the hub could not be reached, where it looked and how to point it at a folder", async () => {
    const fetch = offlineFetch();
    const err = (await fromPretrained("gpt2", { fetch }).catch((e: unknown) => e)) as Error;
    expect(fetch.mock.calls.length).toBeGreaterThan(0);
    expect(err.message).toBe(
      `fromPretrained: could not reach the Hugging Face hub to download "gpt2" (revision main): fetch failed (getaddrinfo ENOTFOUND huggingface.co).\n` +
        `lora-lab looked for a local copy in:\n` +
        `  - lora-lab's cache ${join(loraCache, "gpt2", "main")}: not there\n` +
        `  - the Hugging Face cache ${join(hfCache, "models--gpt2")}: not there\n` +
        `To load it without the hub, pass the folder that holds its config.json and model.safetensors: fromPretrained("/path/to/folder"); ` +
        `or point HF_HUB_CACHE (or HF_HOME) at the Hugging Face cache that holds models--gpt2, or LORA_LAB_CACHE (the cacheDir option) at lora-lab's. ` +
        `HF_HUB_OFFLINE=1 never contacts the hub.`,
    );
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it("recognises Node's real fetch failing (undici, connection refused on a local port just closed)", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const refused = ((input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      return fetch(`http://127.0.0.1:${port}${url.pathname}`, init);
    }) as typeof fetch;
    const err = (await fromPretrained("gpt2", { fetch: refused }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /^fromPretrained: could not reach the Hugging Face hub to download "gpt2" \(revision main\): fetch failed \(.*ECONNREFUSED.*\)\.\n/,
    );
  });

  it("with forceDownload, names the cached copy it did not use", async () => {
    pythonCache(hfCache, "gpt2", { "config.json": golden("config.json"), "model.safetensors": golden("model.safetensors") });
    await expect(fromPretrained("gpt2", { fetch: offlineFetch(), forceDownload: true })).rejects.toThrow(
      `  - the Hugging Face cache ${join(hfCache, "models--gpt2")}: a whole copy, not used because forceDownload is set\n`,
    );
  });

  it("lets other failures through as they are: a bug's TypeError is not a network failure", async () => {
    const buggy = vi.fn(async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'headers')");
    }) as unknown as typeof fetch;
    await expect(fromPretrained("gpt2", { fetch: buggy })).rejects.toThrow(/^Cannot read properties of undefined/);
  });

  it("says why a cached copy could not be used: Python's pytorch_model.bin only, a revision not cached, a half download", async () => {
    pythonCache(hfCache, "org/torch-only", { "config.json": golden("config.json"), "pytorch_model.bin": new Uint8Array(8) });
    await expect(fromPretrained("org/torch-only", { fetch: offlineFetch() })).rejects.toThrow(
      `the Hugging Face cache ${join(hfCache, "models--org--torch-only")}: snapshots/${COMMIT}: no model.safetensors or model.safetensors.index.json (files: config.json, pytorch_model.bin)`,
    );
    await expect(fromPretrained("org/torch-only", { revision: "v2", fetch: offlineFetch() })).rejects.toThrow(
      "no snapshot for revision v2 (no refs/v2, no snapshots/v2)",
    );
    mkdirSync(join(loraCache, "org--half", "main"), { recursive: true });
    copyFileSync(join(GOLDEN, "config.json"), join(loraCache, "org--half", "main", "config.json"));
    await expect(fromPretrained("org/half", { fetch: offlineFetch() })).rejects.toThrow(
      `lora-lab's cache ${join(loraCache, "org--half", "main")}: no model.safetensors or model.safetensors.index.json (files: config.json)`,
    );
  });
});

describe("HF_HUB_OFFLINE and localFilesOnly", () => {
  it("never call fetch: a cached model loads, a missing one fails saying the hub was not contacted", async () => {
    pythonCache(hfCache, "tester/golden-gpt2", { "config.json": golden("config.json"), "model.safetensors": golden("model.safetensors") });
    process.env.HF_HUB_OFFLINE = "1";
    expect(hubOffline()).toBe(true);
    const fetch = offlineFetch();
    logits(await fromPretrained<GPT2LMHeadModel>("tester/golden-gpt2", { fetch, forceDownload: true }));
    await expect(fromPretrained("gpt2", { fetch })).rejects.toThrow(
      /^fromPretrained: "gpt2" \(revision main\) is not in a local cache and HF_HUB_OFFLINE is set, so the hub was not contacted\.\nlora-lab looked/,
    );
    delete process.env.HF_HUB_OFFLINE;
    await expect(fromPretrained("gpt2", { fetch, localFilesOnly: true })).rejects.toThrow(
      "localFilesOnly is set, so the hub was not contacted",
    );
    expect(fetch.mock.calls).toHaveLength(0);
  });

  it("reads HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE as huggingface_hub does", () => {
    for (const [v, want] of [
      ["1", true],
      ["ON", true],
      ["yes", true],
      ["true", true],
      ["0", false],
      ["", false],
      ["off", false],
    ] as const) {
      process.env.HF_HUB_OFFLINE = v;
      expect(hubOffline()).toBe(want);
    }
    delete process.env.HF_HUB_OFFLINE;
    process.env.TRANSFORMERS_OFFLINE = "1";
    expect(hubOffline()).toBe(true);
  });
});
