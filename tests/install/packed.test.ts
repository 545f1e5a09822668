import { execFile, execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inCI, missingToolchain } from "./toolchain.js";

// lora-lab as a user gets it: `npm pack` of the built package (npm test builds dist/ first),
// installed into a fresh project of its own with install scripts off, as npm may leave them. The
// native addon is then missing, and the first ready() on wasm must build it; the README's
// TypeScript snippets must typecheck and run there, importing what the README imports.
//
// Offline: `npm ci` fills npm's cache with every tarball of lora-lab's lockfile but with no
// registry metadata, so `npm install --offline` cannot resolve a version range on its own. The
// project gets a lockfile instead, cut from lora-lab's own (the packages lora-lab's dependencies
// and peers reach, where lora-lab's lockfile put them), so that npm resolves nothing and takes
// every tarball from the cache by its integrity.

const root = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const missing = missingToolchain();
const canBuild = missing === undefined || inCI;
/** Where the one-line build messages on `stderr` say the addon was built. */
const builtAt = (stderr: string) =>
  [...stderr.matchAll(/^lora-lab: built the native BLAS addon for this machine in [\d.]+ s \(once: kept in (.+)\)$/gm)].map((m) => m[1]);
/** ready()'s slow-path notices on `stderr`. */
const slowNotices = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("lora-lab: slow path: "));

let work: string; // holds the tarball, the project and the caches; removed afterwards
let project: string;
let addonDir: string; // node_modules/lora-lab/dist/native
let cache: string; // XDG_CACHE_HOME of every run: the user cache lora-lab falls back on

interface Run {
  stdout: string;
  stderr: string;
}

/** Another user than this one, and a node binary it can start. */
interface User {
  uid: number;
  gid: number;
  node: string;
}

/** Node in the project, as a user runs it: no lora-lab variables but `env`; rejects with stderr on failure. */
function run(args: string[], env: Record<string, string> = {}, as?: User): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("LORA_LAB_") && k !== "CC"));
  return new Promise((resolve, reject) =>
    execFile(
      as?.node ?? process.execPath,
      args,
      { cwd: project, env: { ...base, XDG_CACHE_HOME: cache, ...env }, timeout: 120_000, uid: as?.uid, gid: as?.gid },
      (err, stdout, stderr) =>
        err ? reject(new Error(`node ${args.join(" ")} failed: ${err.message}\n${stderr}`)) : resolve({ stdout, stderr }),
    ),
  );
}

/** A script printing what ready() says about the native addon, and whether `@tensorflow/tfjs` is lora-lab's own. */
const STATUS_SCRIPT = `import * as lab from "lora-lab";
import * as tf from "@tensorflow/tfjs";
const info = await lab.ready({ backend: "wasm" });
await lab.ready({ backend: "cpu" });
await lab.ready({ backend: "wasm" });
console.log(JSON.stringify({ info, status: lab.nativeBlasStatus(), sameTf: tf.Tensor === lab.tf.Tensor }));`;

async function status(env: Record<string, string> = {}, as?: User) {
  const out = await run(["status.mjs"], env, as);
  return { ...JSON.parse(out.stdout.trim().split("\n").pop()!), stderr: out.stderr };
}

/**
 * Root writes anywhere, so a read-only package is tested as nobody (65534), with this node or, where
 * others cannot reach it (nvm under /root), a copy of it; undefined when not root.
 */
function unprivileged(): User | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const parts = process.execPath.split("/");
  const othersCanRun = parts.every((_, i) => (statSync(parts.slice(0, i + 1).join("/") || "/").mode & 0o001) !== 0);
  const node = othersCanRun ? process.execPath : join(work, "node");
  if (!othersCanRun) copyFileSync(process.execPath, node);
  return { uid: 65534, gid: 65534, node };
}

/** The lockfile entries of the packages that lora-lab's dependencies and non-optional peers reach. */
function lockedTree(): Record<string, Record<string, unknown>> {
  const packages = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages as Record<string, Record<string, unknown>>;
  /** Node's lookup: node_modules/<name> in `from`, then in each folder above it. */
  const locate = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dir.includes("/node_modules/") ? dir.slice(0, dir.lastIndexOf("/node_modules/")) : "") {
      const at = `${dir ? `${dir}/` : ""}node_modules/${name}`;
      if (packages[at]) return at;
      if (!dir) return undefined;
    }
  };
  const edges = (p: Record<string, unknown>, peersOnlyRequired: boolean): Array<[string, boolean]> => {
    const meta = (p.peerDependenciesMeta ?? {}) as Record<string, { optional?: boolean }>;
    return [
      ...Object.keys((p.dependencies ?? {}) as object).map((n): [string, boolean] => [n, false]),
      ...Object.keys((p.optionalDependencies ?? {}) as object).map((n): [string, boolean] => [n, true]),
      ...Object.keys((p.peerDependencies ?? {}) as object)
        .filter((n) => !(peersOnlyRequired && meta[n]?.optional))
        .map((n): [string, boolean] => [n, meta[n]?.optional === true]),
    ];
  };
  const tree: Record<string, Record<string, unknown>> = {};
  const visit = (from: string, names: Array<[string, boolean]>) => {
    for (const [name, optional] of names) {
      const at = locate(from, name);
      if (!at) {
        if (optional) continue;
        throw new Error(`package-lock.json has no ${name} for ${from || "lora-lab"}: run npm install`);
      }
      if (tree[at]) continue;
      // The dev / peer flags are relative to lora-lab as the root; the registry address is npm's
      // own convention, for lockfiles written without it (omit-lockfile-registry-resolved).
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = packages[at];
      const named = (entry.name as string | undefined) ?? at.slice(at.lastIndexOf("node_modules/") + "node_modules/".length);
      tree[at] = {
        ...entry,
        resolved: entry.resolved ?? `https://registry.npmjs.org/${named}/-/${named.split("/").pop()}-${entry.version}.tgz`,
      };
      visit(at, edges(packages[at], false));
    }
  };
  visit("", edges(pkg, true));
  return tree;
}

beforeAll(() => {
  const started = performance.now();
  for (const built of ["dist/index.js", "dist/cli/build_native_command.js"]) {
    if (!existsSync(join(root, built))) throw new Error(`${built} is missing: run npm run build first (npm test does)`);
  }
  work = mkdtempSync(join(tmpdir(), "lora-lab-packed-"));
  chmodSync(work, 0o755); // readable by the unprivileged user of the read-only test
  project = join(work, "project");
  cache = join(work, "cache");
  mkdirSync(project);
  mkdirSync(cache, { mode: 0o777 });
  chmodSync(cache, 0o777);
  const [{ filename }] = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", work], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
  );
  const tarball = `file:../${filename}`;
  const { version, license, bin, engines, dependencies, peerDependencies, peerDependenciesMeta } = pkg;
  const user = { name: "user-project", version: "1.0.0", private: true, type: "module", dependencies: { "lora-lab": tarball } };
  const lock = {
    name: user.name,
    version: user.version,
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: user.name, version: user.version, dependencies: user.dependencies },
      "node_modules/lora-lab": {
        version,
        resolved: tarball,
        license,
        dependencies,
        bin,
        engines,
        peerDependencies,
        peerDependenciesMeta,
        hasInstallScript: true,
      },
      ...lockedTree(),
    },
  };
  writeFileSync(join(project, "package.json"), JSON.stringify(user, null, 2));
  writeFileSync(join(project, "package-lock.json"), JSON.stringify(lock, null, 2));
  const install = ["install", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", "--no-update-notifier", join(work, filename)];
  try {
    execFileSync("npm", install, { cwd: project, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? "").trim();
    throw new Error(`npm ${install.join(" ")} failed (offline: on ENOTCACHED, run npm ci, which fills the cache)\n${stderr}`);
  }
  writeFileSync(join(project, "status.mjs"), STATUS_SCRIPT);
  addonDir = join(project, "node_modules", "lora-lab", "dist", "native");
  console.log(`packed and installed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// Timeouts sized for a loaded 2-core machine: the README's tour trains 40 steps, builds take seconds.
describe("lora-lab installed from its packed tarball with install scripts off", () => {
  it("installs offline; the install script did not run; @tensorflow/tfjs, a peer, sits beside it", () => {
    expect(existsSync(join(project, "node_modules", "lora-lab", "dist", "index.js"))).toBe(true);
    expect(existsSync(addonDir)).toBe(false);
    expect(JSON.parse(readFileSync(join(project, "node_modules", "@tensorflow", "tfjs", "package.json"), "utf8")).version).toBe(
      pkg.peerDependencies["@tensorflow/tfjs"],
    );
  });

  it("LORA_LAB_NATIVE=0: ready() reports the slow path and why, once, and builds nothing", async () => {
    const s = await status({ LORA_LAB_NATIVE: "0" });
    expect(s.info.nativeBlas).toEqual({ loaded: false, reason: "disabled by LORA_LAB_NATIVE=0", fix: "unset LORA_LAB_NATIVE" });
    expect(slowNotices(s.stderr)).toEqual([
      "lora-lab: slow path: wasm without the native BLAS addon, training runs 4-8x slower (disabled by LORA_LAB_NATIVE=0). To fix: unset LORA_LAB_NATIVE.",
    ]);
    expect(s.sameTf).toBe(true);
    expect(existsSync(addonDir)).toBe(false);
  });

  it("no C compiler: ready() says so and how to install one", async () => {
    const s = await status({ CC: join(work, "no-such-cc") });
    expect(s.info.nativeBlas.loaded).toBe(false);
    expect(s.info.nativeBlas.reason).toBe(`not built: no C compiler: \`${join(work, "no-such-cc")}\` is not installed`);
    expect(s.info.nativeBlas.fix).toMatch(/apt-get install gcc libopenblas-dev\), then run npx lora-lab build-native$/);
    expect(slowNotices(s.stderr)).toHaveLength(1);
    expect(slowNotices(s.stderr)[0]).toContain("(not built: no C compiler");
    expect(existsSync(join(addonDir, "lora_lab_blas.node"))).toBe(false);
  });

  it("a failing compiler: the reason is the compiler's first error line", async () => {
    // The real compiler, made to fail the way a missing header does.
    const cc = join(work, "failing-cc");
    writeFileSync(cc, `#!/bin/sh\nexec ${process.env.CC || "cc"} -include lora_lab_missing_header.h "$@"\n`, { mode: 0o755 });
    const s = await status({ CC: cc });
    expect(s.info.nativeBlas.reason).toMatch(
      /^not built: `.*failing-cc` failed: .*fatal error: lora_lab_missing_header\.h: No such file or directory$/,
    );
    expect(existsSync(join(addonDir, "lora_lab_blas.node"))).toBe(false);
  });

  it("the README's TypeScript snippets typecheck and run, the first one building the addon once", async () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const snippets = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
    expect(snippets.length).toBeGreaterThanOrEqual(2);
    const files = snippets.map((code, i) => {
      writeFileSync(join(project, `readme-${i}.ts`), code);
      return `readme-${i}.ts`;
    });
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", strict: true, skipLibCheck: true, outDir: "build" },
        files,
      }),
    );
    try {
      execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."], {
        cwd: project,
        encoding: "utf8",
      });
    } catch (err) {
      expect.fail(`the README's snippets do not typecheck in a user's project:\n${(err as { stdout?: string }).stdout}`);
    }
    const stderr: string[] = [];
    for (const file of files) stderr.push((await run([join("build", file.replace(/\.ts$/, ".js"))])).stderr);
    const built = builtAt(stderr.join("\n"));
    if (canBuild) {
      expect(missing, "CI installs gcc and libopenblas-dev (.ci/run), so the addon must build there").toBeUndefined();
      expect(built).toEqual([join(addonDir, "lora_lab_blas.node")]); // the package folder is writable here
      expect(slowNotices(stderr.join("\n"))).toEqual([]);
    } else {
      expect(built).toEqual([]);
      expect(slowNotices(stderr[0])[0]).toContain("(not built:");
    }
  }, 300_000);

  it.skipIf(!canBuild)("ready() then reports the native path loaded from the package, without building again", async () => {
    const s = await status();
    expect(s.info.nativeBlas).toMatchObject({ loaded: true });
    expect(s.info.nativeBlas.threads).toBeGreaterThan(0);
    expect(s.status.path).toBe(join(addonDir, "lora_lab_blas.node"));
    expect(builtAt(s.stderr)).toEqual([]);
    expect(slowNotices(s.stderr)).toEqual([]);
  });

  it.skipIf(!canBuild)(
    "a read-only package: two processes at once build it once, into the user cache, reused afterwards",
    async () => {
      rmSync(addonDir, { recursive: true, force: true });
      const dist = join(project, "node_modules", "lora-lab", "dist");
      const as = unprivileged();
      if (!as) chmodSync(dist, 0o555);
      try {
        const both = await Promise.all([status({ HOME: cache }, as), status({ HOME: cache }, as)]);
        const built = both.flatMap((s) => builtAt(s.stderr));
        expect(built).toHaveLength(1);
        expect(built[0]).toMatch(
          new RegExp(
            `^${cache}/lora-lab/native/${process.platform}-${process.arch}-abi${process.versions.modules}-[0-9a-f]{16}/lora_lab_blas\\.node$`,
          ),
        );
        for (const s of both) expect(s.status).toMatchObject({ loaded: true, path: built[0] });
        const again = await status({ HOME: cache }, as);
        expect(again.status).toMatchObject({ loaded: true, path: built[0] });
        expect(builtAt(again.stderr)).toEqual([]);
        expect(existsSync(addonDir)).toBe(false);
      } finally {
        if (!as) chmodSync(dist, 0o755);
      }
    },
    300_000,
  );
});
