#!/usr/bin/env node
/**
 * Rewrites the saved Plotly outputs of the given notebooks so that plotly.js comes from its CDN
 * instead of being inlined (4.8 MB per notebook). Each output's text/html is made again from its
 * own application/vnd.plotly.v1+json data, keeping the element id. The committed notebooks are kept
 * this way; executing with LORA_LAB_PLOTLYJS=cdn gives the same result directly.
 * Usage: node notebooks/slim.mjs notebooks/*.ipynb   (after npm run build)
 */
import { readFileSync, writeFileSync } from "node:fs";
import { figureBundle, PLOTLY_MIME } from "../dist/index.js";

const join = (v) => (Array.isArray(v) ? v.join("") : v);
for (const file of process.argv.slice(2)) {
  const nb = JSON.parse(readFileSync(file, "utf8"));
  let changed = 0;
  for (const cell of nb.cells) {
    for (const out of cell.outputs ?? []) {
      const data = out.data;
      if (!data || !data[PLOTLY_MIME] || !data["text/html"]) continue;
      const html = join(data["text/html"]);
      const id = /^<div id="([^"]+)"/.exec(html)?.[1];
      if (!id) throw new Error(`${file}: a Plotly output's HTML does not start with its div; not touched`);
      const slim = figureBundle(data[PLOTLY_MIME], { plotlyJs: "cdn", elementId: id.replace(/&quot;/g, '"') })["text/html"];
      if (slim !== html) {
        data["text/html"] = slim;
        changed++;
      }
    }
  }
  if (changed) writeFileSync(file, JSON.stringify(nb, null, 1) + "\n");
  console.log(`${file}: ${changed} Plotly output(s) now load plotly.js from the CDN`);
}
