/**
 * LoraConfigurator: one row per layer group (role, rank, alpha), target-module checkboxes, the
 * live trainable-parameter count and the layer-plan picture the kernel recomputes.
 */
import { checkbox, el, range, select } from "./dom.js";
import { figureSerializers, LabModel, LabView, labModelDefaults } from "./lab_model.js";

const ROLES = ["frozen", "lora", "full"];

export class LoraConfiguratorModel extends LabModel {
  override defaults() {
    return {
      ...super.defaults(),
      ...labModelDefaults("LoraConfigurator", {
        groups: [],
        roles: [],
        ranks: [],
        alphas: [],
        target_modules: [],
        available_modules: [],
        embeddings: "frozen",
        head: "full",
        trainable_params: 0,
        total_params: 0,
        figure: null,
      }),
    };
  }
  static override serializers = { ...LabModel.serializers, ...figureSerializers("LoraConfigurator") };
}

const replaced = <T>(list: T[], i: number, v: T): T[] => list.map((x, j) => (j === i ? v : x));

export class LoraConfiguratorView extends LabView {
  override render(): void {
    super.render();
    const m = this.model;
    const groups = m.get("groups") as { name: string; layers: number[] }[];
    const rows = groups.map((g, i) => {
      const role = select(g.name, ROLES, m.get("roles")[i], `roles.${i}`, (v) => this.push({ roles: replaced(m.get("roles"), i, v) }));
      const rank = range("r", { min: 1, max: 64, step: 1, value: m.get("ranks")[i], name: `ranks.${i}` }, (v) =>
        this.push({ ranks: replaced(m.get("ranks"), i, v) }),
      );
      const alpha = range("alpha", { min: 1, max: 128, step: 1, value: m.get("alphas")[i], name: `alphas.${i}` }, (v) =>
        this.push({ alphas: replaced(m.get("alphas"), i, v) }),
      );
      const layers = el(
        "span",
        { class: "lora-lab-label" },
        g.layers.length ? `layers ${g.layers[0]}–${g.layers[g.layers.length - 1]}` : "no layers",
      );
      return { root: el("div", { class: "lora-lab-group" }, role.root, layers, rank.root, alpha.root), role, rank, alpha };
    });
    const targets = (m.get("available_modules") as string[]).map((name) =>
      checkbox(name, m.get("target_modules").includes(name), `target_modules.${name}`, (on) => {
        const now = m.get("target_modules") as string[];
        this.push({ target_modules: on ? [...now.filter((t) => t !== name), name] : now.filter((t) => t !== name) });
      }),
    );
    const head = select("lm_head", ["frozen", "full"], m.get("head"), "head", (v) => this.push({ head: v }));
    const emb = select("embeddings", ["frozen", "full"], m.get("embeddings"), "embeddings", (v) => this.push({ embeddings: v }));
    const count = el("div", { class: "lora-lab-summary", "data-trait": "trainable_params" });
    const plot = el("div", { class: "lora-lab-plot", "data-figure": "figure" });
    const showCount = () => {
      const t = m.get("trainable_params") as number;
      const all = m.get("total_params") as number;
      count.textContent = `trainable params: ${t.toLocaleString("en-US")} || all params: ${all.toLocaleString("en-US")} || trainable%: ${((100 * t) / all).toFixed(4)}`;
    };
    showCount();
    this.el.append(
      ...rows.map((r) => r.root),
      el(
        "div",
        { class: "lora-lab-controls" },
        el("span", { class: "lora-lab-label" }, "target modules"),
        ...targets.map((t) => t.root),
        emb.root,
        head.root,
      ),
      count,
      plot,
    );
    this.bindFigure("figure", plot);
    this.listenTo(m, "change", () => {
      rows.forEach((r, i) => {
        r.role.input.value = m.get("roles")[i];
        r.rank.set(m.get("ranks")[i]);
        r.alpha.set(m.get("alphas")[i]);
      });
      targets.forEach((t, i) => (t.input.checked = m.get("target_modules").includes(m.get("available_modules")[i])));
      head.input.value = m.get("head");
      emb.input.value = m.get("embeddings");
      showCount();
    });
  }
}
