/**
 * Where a hub id such as "gpt2" or "org/name" is found: lora-lab's own download cache, the
 * Hugging Face cache that Python's huggingface_hub fills (so a model downloaded with transformers
 * loads offline), or a download from the hub. Offline (HF_HUB_OFFLINE=1, or localFilesOnly) the
 * network is never touched; when the hub cannot be reached the error says where lora-lab looked.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../io/index.js";

export interface HubOptions {
  /** Git revision for hub downloads (a branch, tag or commit hash). Default "main". */
  revision?: string;
  /** Where lora-lab keeps hub downloads. Default $LORA_LAB_CACHE or ~/.cache/lora-lab/hub. */
  cacheDir?: string;
  /** Download again even when the files are cached. */
  forceDownload?: boolean;
  /** Never contact the hub: only the local caches (transformers' local_files_only). Also set by HF_HUB_OFFLINE=1. */
  localFilesOnly?: boolean;
  /** Access token for private hub repositories. */
  accessToken?: string;
  /** Custom fetch for hub downloads (proxies, tests). */
  fetch?: typeof fetch;
}

/** lora-lab's own cache: `<dir>/<org--name>/<revision>/` holds the files themselves. */
export function loraLabCacheDir(opts: Pick<HubOptions, "cacheDir"> = {}): string {
  return opts.cacheDir ?? process.env.LORA_LAB_CACHE ?? join(homedir(), ".cache", "lora-lab", "hub");
}

/** The Hugging Face hub cache, resolved as huggingface_hub does: HF_HUB_CACHE, else $HF_HOME/hub (HF_HOME defaults to $XDG_CACHE_HOME/huggingface, ~/.cache/huggingface). */
export function huggingFaceCacheDir(): string {
  const env = process.env;
  const home = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface");
  return env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(home, "hub");
}

/** HF_HUB_OFFLINE (or transformers' TRANSFORMERS_OFFLINE) set to 1 / ON / YES / TRUE, as huggingface_hub reads them. */
export function hubOffline(): boolean {
  const truthy = (v: string | undefined) => ["1", "ON", "YES", "TRUE"].includes((v ?? "").toUpperCase());
  return truthy(process.env.HF_HUB_OFFLINE) || truthy(process.env.TRANSFORMERS_OFFLINE);
}

/** One place lora-lab looked for a model: the folder when it is usable, else why not. */
interface Lookup {
  place: string;
  folder?: string;
  why?: string;
}

/** Why `dir` cannot be loaded as a model folder (config.json and whole safetensors weights), or undefined when it can. */
function incomplete(dir: string): string | undefined {
  if (!existsSync(dir)) return "not there";
  const files = () => readdirSync(dir).join(", ") || "empty";
  if (!existsSync(join(dir, "config.json"))) return `no config.json (files: ${files()})`;
  if (existsSync(join(dir, "model.safetensors"))) return undefined;
  const indexPath = join(dir, "model.safetensors.index.json");
  if (!existsSync(indexPath)) return `no model.safetensors or model.safetensors.index.json (files: ${files()})`;
  try {
    const index = JSON.parse(readFileSync(indexPath, "utf8")) as { weight_map?: Record<string, string> };
    const missing = [...new Set(Object.values(index.weight_map ?? {}))].filter((shard) => !existsSync(join(dir, shard)));
    return missing.length ? `shards missing: ${missing.join(", ")}` : undefined;
  } catch (err) {
    return `unreadable model.safetensors.index.json: ${(err as Error).message}`;
  }
}

function lookInLoraLabCache(id: string, revision: string, opts: HubOptions): Lookup {
  const folder = join(loraLabCacheDir(opts), id.replace("/", "--"), revision);
  const why = incomplete(folder);
  return { place: `lora-lab's cache ${folder}`, ...(why ? { why } : { folder }) };
}

/**
 * huggingface_hub's layout: `<cache>/models--org--name/refs/<revision>` holds a commit hash and
 * `snapshots/<hash>/` the files (links into blobs/); a revision with no ref is taken as a hash.
 */
function lookInHuggingFaceCache(id: string, revision: string): Lookup {
  const repo = join(huggingFaceCacheDir(), `models--${id.replace("/", "--")}`);
  const place = `the Hugging Face cache ${repo}`;
  if (!existsSync(repo)) return { place, why: "not there" };
  const ref = join(repo, "refs", revision);
  const commit = existsSync(ref) && statSync(ref).isFile() ? readFileSync(ref, "utf8").trim() : revision;
  const folder = join(repo, "snapshots", commit);
  if (!existsSync(folder)) return { place, why: `no snapshot for revision ${revision} (no refs/${revision}, no snapshots/${commit})` };
  const why = incomplete(folder);
  return why ? { place, why: `snapshots/${commit}: ${why}` } : { place, folder };
}

/** Node's fetch (undici) rejects with TypeError("fetch failed") and the socket error as its cause. */
function networkFailure(err: unknown): string | undefined {
  const e = err as { name?: string; message?: string; code?: string; cause?: { message?: string; code?: string } };
  const codes = [
    "ENOTFOUND",
    "EAI_AGAIN",
    "ECONNREFUSED",
    "ECONNRESET",
    "ETIMEDOUT",
    "ENETUNREACH",
    "EHOSTUNREACH",
    "UND_ERR_CONNECT_TIMEOUT",
    "UND_ERR_SOCKET",
  ];
  // Only fetch's own TypeError (Node: "fetch failed"; browsers: "Failed to fetch", "NetworkError ..."), not a bug's.
  const fetchTypeError = err instanceof TypeError && /fetch|network/i.test(e.message ?? "");
  const network = fetchTypeError || codes.includes(e?.code ?? "") || codes.includes(e?.cause?.code ?? "") || e?.name === "TimeoutError";
  if (!network) return undefined;
  return e.cause?.message ? `${e.message} (${e.cause.message})` : String(e?.message ?? err);
}

function lookedIn(looked: Lookup[]): string {
  return `lora-lab looked for a local copy in:\n${looked.map((l) => `  - ${l.place}: ${l.why ?? "a whole copy, not used because forceDownload is set"}`).join("\n")}`;
}

function howToPoint(id: string): string {
  return (
    `To load it without the hub, pass the folder that holds its config.json and model.safetensors: fromPretrained("/path/to/folder"); ` +
    `or point HF_HUB_CACHE (or HF_HOME) at the Hugging Face cache that holds models--${id.replace("/", "--")}, ` +
    `or LORA_LAB_CACHE (the cacheDir option) at lora-lab's. HF_HUB_OFFLINE=1 never contacts the hub.`
  );
}

/**
 * The local folder for hub id `id`: lora-lab's cache, then the Hugging Face cache, read in place
 * and never written (a cached revision is used as it is, without asking the hub whether a branch
 * moved, as lora-lab's own cache always was); else a download into lora-lab's cache.
 */
export async function resolveHubModel(id: string, opts: HubOptions = {}): Promise<string> {
  const revision = opts.revision ?? "main";
  const offline = opts.localFilesOnly === true || hubOffline();
  const looked = [lookInLoraLabCache(id, revision, opts), lookInHuggingFaceCache(id, revision)];
  const found = looked.find((l) => l.folder);
  if (found && (offline || !opts.forceDownload)) return found.folder!;
  if (offline) {
    const why = opts.localFilesOnly ? "localFilesOnly is set" : "HF_HUB_OFFLINE is set";
    throw new Error(
      `fromPretrained: "${id}" (revision ${revision}) is not in a local cache and ${why}, so the hub was not contacted.\n${lookedIn(looked)}\n${howToPoint(id)}`,
    );
  }
  try {
    return await downloadFromHub(id, revision, opts);
  } catch (err) {
    const failure = networkFailure(err);
    if (failure === undefined) throw err;
    throw new Error(
      `fromPretrained: could not reach the Hugging Face hub to download "${id}" (revision ${revision}): ${failure}.\n${lookedIn(looked)}\n${howToPoint(id)}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Downloads a hub repository's model files into lora-lab's cache, `<cache>/<org--name>/<revision>/`
 * (each file written atomically, so an interrupted download never leaves a truncated file; files
 * already there are kept, so a second try resumes), and returns the folder.
 */
async function downloadFromHub(id: string, revision: string, opts: HubOptions): Promise<string> {
  const { downloadFile } = await import("@huggingface/hub");
  const folder = join(loraLabCacheDir(opts), id.replace("/", "--"), revision);
  const get = async (path: string, required: boolean): Promise<boolean> => {
    const target = join(folder, path);
    if (!opts.forceDownload && existsSync(target)) return true;
    const blob = await downloadFile({ repo: id, path, revision, accessToken: opts.accessToken, fetch: opts.fetch });
    if (!blob) {
      if (required) throw new Error(`fromPretrained: the hub repository "${id}" (revision ${revision}) has no ${path}`);
      return false;
    }
    await writeFileAtomic(target, new Uint8Array(await blob.arrayBuffer()));
    return true;
  };
  await get("config.json", true);
  if (!(await get("model.safetensors", false))) {
    if (!(await get("model.safetensors.index.json", false))) {
      throw new Error(`fromPretrained: the hub repository "${id}" has neither model.safetensors nor model.safetensors.index.json`);
    }
    const index = JSON.parse(await readFile(join(folder, "model.safetensors.index.json"), "utf8")) as {
      weight_map: Record<string, string>;
    };
    for (const shard of new Set(Object.values(index.weight_map))) await get(shard, true);
  }
  for (const optional of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) await get(optional, false);
  return folder;
}
