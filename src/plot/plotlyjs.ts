import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Where plotly.js comes from in an HTML page: inlined from the npm package, a CDN, or already on the page. */
export type PlotlyJsMode = "inline" | "cdn" | "omit";

const require = createRequire(import.meta.url);
let cached: { source: string; version: string } | undefined;

function load(): { source: string; version: string } {
  if (!cached) {
    let main: string;
    try {
      main = require.resolve("plotly.js-dist-min");
    } catch {
      throw new Error(
        'plotly.js is needed to inline plots but "plotly.js-dist-min" is not installed; run npm install plotly.js-dist-min, or pass { plotlyJs: "cdn" }',
      );
    }
    const version = JSON.parse(readFileSync(join(dirname(main), "package.json"), "utf8")).version as string;
    cached = { source: scriptSafe(readFileSync(main, "utf8")), version };
  }
  return cached;
}

/** The plotly.js bundle (4.8 MB), made safe to sit inside a <script> element. */
export function plotlyJsSource(): string {
  return load().source;
}

export function plotlyJsVersion(): string {
  return load().version;
}

export function plotlyCdnUrl(version = plotlyJsVersion()): string {
  return `https://cdn.plot.ly/plotly-${version}.min.js`;
}

/**
 * An HTML parser ends a script at "</script" and changes state at "<!--" whatever the JS means.
 * In plotly's bundle both occur only inside string literals, where "\x3C" is the same "<".
 */
export function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, "\\x3C/$1").replace(/<!--/g, "\\x3C!--");
}

/** JSON that can be pasted into a <script> (or an attribute-free HTML context) unchanged in meaning. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
