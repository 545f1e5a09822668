import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PAGES = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** Markdown without fenced code blocks and inline code, where a `[x](y)` is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** Targets of inline links and images `[text](target "title")` and of reference definitions `[id]: target`. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
  const refs = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1]);
  return [...inline, ...refs];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** What is wrong with one link of `page` (a path relative to the repository root), or undefined. */
function problem(page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) return "leaves the repository (a URL)";
  const [path, anchor] = target.split("#", 2) as [string, string | undefined];
  if (path.startsWith("/")) return "is an absolute path; link relative to the page";
  const file = path === "" ? join(ROOT, page) : resolve(ROOT, dirname(page), decodeURIComponent(path));
  const inside = relative(ROOT, file);
  if (inside.startsWith("..") || resolve(ROOT, inside) !== file) return "points outside the repository";
  if (!existsSync(file)) return `names ${inside}, which does not exist`;
  if (anchor && statSync(file).isFile() && file.endsWith(".md") && !headingAnchors(readFileSync(file, "utf8")).has(anchor)) {
    return `names #${anchor}, which is not a heading of ${inside}`;
  }
  return undefined;
}

describe("the README and docs/", () => {
  it("every relative link resolves to a file in the repository, and none leaves it", () => {
    const bad: string[] = [];
    let links = 0;
    for (const page of PAGES) {
      for (const target of linkTargets(readFileSync(join(ROOT, page), "utf8"))) {
        links++;
        const why = problem(page, target);
        if (why) bad.push(`${page}: (${target}) ${why}`);
      }
    }
    expect(bad).toEqual([]);
    expect(links).toBeGreaterThan(PAGES.length);
  });

  it("name no file outside the repository (the design lives in docs/design.md)", () => {
    for (const page of PAGES) {
      const text = readFileSync(join(ROOT, page), "utf8");
      expect(text, page).not.toMatch(/shared folder|\/work\/|shared\/DESIGN\.md/i);
    }
  });

  it("the README starts with the two commands, links every docs page, and stays under 15 KB", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme).toMatch(/^# lora-lab\n\n```sh\nnpm ci && npm start {3}# [^\n]+\nnpm ci && npm test {4}# [^\n]+\n```\n/);
    expect(Buffer.byteLength(readme)).toBeLessThan(15 * 1024);
    const linked = new Set(linkTargets(readme).map((t) => t.split("#")[0]));
    const unlinked = PAGES.filter((p) => p.startsWith("docs/") && !linked.has(p));
    expect(unlinked).toEqual([]);
  });

  it("the link checker finds links outside code and catches the ones that escape", () => {
    const sample = 'see [a](docs/a.md#x), `[not](code.md)`, ![img](b.png "t")\n\n```\n[no](fenced.md)\n```\n[r]: ../up.md\n';
    expect(linkTargets(sample)).toEqual(["docs/a.md#x", "b.png", "../up.md"]);
    expect(problem("README.md", "../outside.md")).toMatch(/outside the repository/);
    expect(problem("docs/lora.md", "https://github.com/huggingface/peft")).toMatch(/URL/);
    expect(problem("docs/lora.md", "missing.md")).toMatch(/does not exist/);
    expect(problem("docs/lora.md", "layer-plans.md#no-such-heading")).toMatch(/not a heading/);
    expect(problem("docs/lora.md", "../README.md#a-tour")).toBeUndefined();
    expect([...headingAnchors("# A tour\n## Q and V of GPT-2's fused `c_attn`\n## Tests\n## Tests\n")]).toEqual([
      "a-tour",
      "q-and-v-of-gpt-2s-fused-c_attn",
      "tests",
      "tests-1",
    ]);
  });
});
