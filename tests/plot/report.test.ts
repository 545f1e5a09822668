import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { reportHtml, writeReport, type PlotReportSection } from "../../src/plot/index.js";
import { allFigures } from "./figures.js";

const dir = mkdtempSync(join(tmpdir(), "lora-lab-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const figures = allFigures();

describe("reportHtml", () => {
  const sections: PlotReportSection[] = [
    { heading: "Run <1>" },
    "First paragraph.\n\nSecond & last.",
    figures.loss,
    { figure: figures.memory, caption: "Memory by method" },
    {
      table: [
        { method: "LoRA", params: 6144, note: "<b>" },
        { method: "full", params: 197632.5 },
      ],
      caption: "Params",
    },
    { table: { columns: ["a", "b"], rows: [[1, "x"]] } },
    { html: '<p class="raw">raw</p>' },
  ];
  const html = reportHtml(sections, { title: "My report" });
  // Without figures, so a failed match prints a short page, not plotly.js.
  const text = reportHtml(
    sections.filter((s) => typeof s === "string" || !("data" in s || "figure" in s)),
    { title: "My report" },
  );
  it("writes headings, paragraphs and tables with everything escaped", () => {
    const html = text;
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain("<title>My report</title>");
    expect(html).toContain("<h2>Run &lt;1&gt;</h2>");
    expect(html).toContain("<p>First paragraph.</p>\n<p>Second &amp; last.</p>");
    expect(html).toContain("<caption>Params</caption><thead><tr><th>method</th><th>params</th><th>note</th></tr></thead>");
    expect(html).toContain('<td class="num">6,144</td>');
    expect(html).toContain('<td class="num">197,632.5</td>');
    expect(html).toContain('<td class="">&lt;b&gt;</td>');
    expect(html).toContain('<p class="raw">raw</p>');
  });
  it("embeds each figure's JSON and caption, and plotly.js exactly once", () => {
    expect(html.length).toBeGreaterThan(4_000_000);
    expect(html.match(/class="lora-lab-plot"/g)).toHaveLength(2);
    const json = /<script type="application\/json" id="figure-2-data">(.*?)<\/script>/s.exec(html)![1];
    expect(JSON.parse(json).layout.title.text).toBe("Training memory by method");
    expect(html.includes("<figcaption>Memory by method</figcaption>")).toBe(true);
    expect(html.match(/window\.Plotly = Plotly/g)).toHaveLength(1);
    expect(reportHtml(["text only"]).includes("window.Plotly = Plotly")).toBe(false);
    expect(reportHtml([figures.loss], { plotlyJs: "cdn" })).toContain('<script src="https://cdn.plot.ly/plotly-4.1.2.min.js"></script>');
  });
  it("says what a section may be when given something else", () => {
    expect(() => reportHtml([{ nonsense: 1 } as unknown as PlotReportSection])).toThrow(/none of: a string, a figure/);
  });
});

describe("writeReport", () => {
  it("writes the page atomically into new folders and leaves no temp file", async () => {
    const path = join(dir, "a/b/report.html");
    expect(await writeReport(path, ["hello", figures.schedule])).toBe(path);
    expect(readFileSync(path, "utf8")).toBe(reportHtml(["hello", figures.schedule]));
    writeFileSync(join(dir, "a/b/keep.txt"), "x");
    await writeReport(path, ["again"]);
    expect(readFileSync(path, "utf8")).toContain("<p>again</p>");
    expect(readdirSync(join(dir, "a/b")).sort()).toEqual(["keep.txt", "report.html"]);
  });
  it("names the path it could not write", async () => {
    const blocker = join(dir, "file");
    writeFileSync(blocker, "");
    await expect(writeReport(join(blocker, "r.html"), ["x"])).rejects.toThrow(/could not write .*file\/r\.html|EEXIST|ENOTDIR/);
  });
});
