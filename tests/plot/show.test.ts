import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { figureBundle, figureSummary, PLOT_DISPLAY_HOOK, PLOTLY_MIME, show, type PlotDisplayContent } from "../../src/plot/index.js";
import { scriptSafe } from "../../src/plot/plotlyjs.js";
import { allFigures } from "./figures.js";

const figures = allFigures();
const g = globalThis as unknown as Record<symbol, unknown>;
const SENT = Symbol.for("lora-lab.plot.plotlyJsSent");
const PLOTLY_JS_SIZE = 4_000_000; // the inlined bundle is ~4.8 MB; a figure alone is a few kB

afterEach(() => {
  delete g[PLOT_DISPLAY_HOOK];
  delete g[SENT];
});

describe("figureBundle", () => {
  it("carries the figure as Plotly JSON, an HTML div with its script, and a text summary", () => {
    const b = figureBundle(figures.memory, { plotlyJs: "omit", elementId: "fig-1" });
    expect(Object.keys(b).sort()).toEqual([PLOTLY_MIME, "text/html", "text/plain"].sort());
    const json = b[PLOTLY_MIME];
    expect(json.data).toEqual(JSON.parse(JSON.stringify(figures.memory.data)));
    expect(json.config).toMatchObject({ responsive: true, displaylogo: false });
    expect(b["text/html"]).toContain('<div id="fig-1"');
    expect(b["text/html"]).toContain('getElementById("fig-1")');
    expect(b["text/html"].length).toBeLessThan(50_000);
    expect(b["text/plain"]).toBe('[Plotly figure "Training memory by method": 6 traces (bar ×5, scatter); x: method; y: memory (GiB)]');
  });
  it("inlines plotly.js once in the HTML when asked, or points at the CDN", () => {
    const inline = figureBundle(figures.schedule, { plotlyJs: "inline" })["text/html"];
    expect(inline.length).toBeGreaterThan(PLOTLY_JS_SIZE);
    expect(inline.match(/window\.Plotly = Plotly/g)).toHaveLength(1);
    // Nothing inside may end the script element early.
    expect(inline.match(/<\/script/gi)).toHaveLength(2);
    const cdn = figureBundle(figures.schedule, { plotlyJs: "cdn" })["text/html"];
    expect(cdn).toMatch(/https:\/\/cdn\.plot\.ly\/plotly-4\.1\.2\.min\.js/);
    expect(cdn.length).toBeLessThan(100_000);
  });
  it("escapes what would break out of a script: </script> in a title stays text", () => {
    const evil = { data: [], layout: { title: { text: "</script><script>alert(1)</script>" } } };
    const html = figureBundle(evil, { plotlyJs: "omit" })["text/html"];
    expect(html.match(/<\/script/gi)).toHaveLength(1);
    expect(html).toContain("\\u003c/script\\u003e");
    expect(scriptSafe('var a="</script>"; var b="<!--";')).toBe('var a="\\x3C/script>"; var b="\\x3C!--";');
  });
  it("turns NaN into null (a gap), so the JSON stays valid", () => {
    const b = figureBundle({ data: [{ type: "scatter", x: [1, 2], y: [NaN, 1] }], layout: {} }, { plotlyJs: "omit" });
    expect((b[PLOTLY_MIME].data[0] as { y: unknown[] }).y).toEqual([null, 1]);
    expect(figureSummary({ data: [], layout: {} })).toBe("[Plotly figure: 0 traces ()]");
  });
});

describe("show", () => {
  it("sends ONE display_data with all three MIME types through the lora-lab display hook", () => {
    const sent: [PlotDisplayContent, boolean][] = [];
    g[PLOT_DISPLAY_HOOK] = (content: PlotDisplayContent, update: boolean) => sent.push([content, update]);
    const h = show(figures.loss);
    expect(h.via).toBe("lora-lab");
    expect(sent).toHaveLength(1);
    const [content, update] = sent[0];
    expect(update).toBe(false);
    expect(Object.keys(content.data).sort()).toEqual([PLOTLY_MIME, "text/html", "text/plain"].sort());
    expect(content.transient.display_id).toBe(h.displayId);
    expect(content.metadata).toEqual({});
  });
  it("inlines plotly.js in the first figure of the session only", () => {
    const sent: PlotDisplayContent[] = [];
    const display = (c: PlotDisplayContent) => sent.push(c);
    show(figures.loss, { display });
    show(figures.memory, { display });
    expect((sent[0].data["text/html"] as string).length).toBeGreaterThan(PLOTLY_JS_SIZE);
    expect((sent[1].data["text/html"] as string).length).toBeLessThan(100_000);
    show(figures.memory, { display, plotlyJs: "cdn" });
    expect(sent[2].data["text/html"]).toContain("cdn.plot.ly");
  });
  it("show() with LORA_LAB_PLOTLYJS=cdn points every figure at the CDN, and rejects other values", () => {
    const sent: PlotDisplayContent[] = [];
    const display = (c: PlotDisplayContent) => sent.push(c);
    process.env.LORA_LAB_PLOTLYJS = "cdn";
    try {
      show(figures.loss, { display });
      show(figures.memory, { display });
      for (const c of sent) {
        expect((c.data["text/html"] as string).length).toBeLessThan(100_000);
        expect(c.data["text/html"]).toContain("cdn.plot.ly");
      }
      process.env.LORA_LAB_PLOTLYJS = "yes";
      expect(() => show(figures.loss, { display })).toThrow(/LORA_LAB_PLOTLYJS must be "cdn" or "inline", got "yes"/);
    } finally {
      delete process.env.LORA_LAB_PLOTLYJS;
    }
  });
  it("update() redraws the same output with update_display_data, keeping its display id", () => {
    const sent: [PlotDisplayContent, boolean][] = [];
    const display = (c: PlotDisplayContent, u: boolean) => sent.push([c, u]);
    const h = show(figures.loss, { display, displayId: "training-loss", plotlyJs: "omit" });
    h.update(figures.schedule);
    expect(sent.map(([c, u]) => [c.transient.display_id, u])).toEqual([
      ["training-loss", false],
      ["training-loss", true],
    ]);
    expect((sent[1][0].data[PLOTLY_MIME] as { layout: { title: { text: string } } }).layout.title.text).toBe("Learning-rate schedule");
    expect(h.bundle["text/plain"]).toMatch(/Learning-rate schedule/);
  });
  it("falls back to tslab's newDisplay with HTML only (one MIME type per message), updating in place", () => {
    const calls: [number, string][] = [];
    let displays = 0;
    const tslab = {
      display: {
        html: () => {
          throw new Error("plain display must not be used when newDisplay exists");
        },
      },
      newDisplay: () => {
        const id = ++displays;
        return { html: (s: string) => void calls.push([id, s]) };
      },
    };
    const h = show(figures.loss, { tslab, plotlyJs: "omit" });
    h.update(figures.memory);
    expect(h.via).toBe("tslab");
    expect(calls.map(([id]) => id)).toEqual([1, 1]);
    expect(calls[1][1]).toContain("Training memory by method");
    expect(calls[0][1]).toMatch(/^<div id=/);
  });
  it("prints a text summary in plain Node (also when tslab is 'Not ready') and returns the bundle", () => {
    const lines: string[] = [];
    const h = show(figures.memory, { tslab: null, print: (l) => lines.push(l), plotlyJs: "omit" });
    expect(h.via).toBe("text");
    expect(lines).toEqual([figureSummary(figures.memory)]);
    expect(h.bundle[PLOTLY_MIME].layout).toMatchObject({ barmode: "stack" });
    h.update(figures.loss); // silent
    expect(lines).toHaveLength(1);
    const notReady = {
      display: {
        html: () => {
          throw new Error("Not ready");
        },
      },
    };
    expect(show(figures.loss, { tslab: notReady, print: (l) => lines.push(l), plotlyJs: "omit" }).via).toBe("text");
    expect(g[SENT]).toBeUndefined();
  });
  it("a cell ending in show(...) prints one line, not megabytes of HTML", () => {
    const h = show(figures.loss, { tslab: null, print: () => undefined });
    const printed = inspect(h);
    expect(printed.length).toBeLessThan(400);
    expect(printed).toMatch(/^PlotHandle \{ displayId: .*via: "text", figure: \[Plotly figure "Loss"/);
  });
});
