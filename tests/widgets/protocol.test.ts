import { beforeEach, describe, expect, it } from "vitest";
// The front end's own buffer helpers: an independent implementation of the wire format.
import { put_buffers, remove_buffers } from "@jupyter-widgets/base/lib/utils.js";
import { installFakeComms, type FakeCommManager } from "./fake_comms.js";

const W = await import("lora-lab/widgets");

let fake: FakeCommManager;
beforeEach(() => {
  fake = installFakeComms();
});

const opens = () => fake.sent.filter((s) => s.kind === "open" && s.target === "jupyter.widget");
const openOf = (id: string) => opens().find((s) => s.commId === id)!;
const stateWithBuffers = (s: { data: any; buffers: DataView[] }) => {
  const state = structuredClone(s.data.state);
  put_buffers(state, s.data.buffer_paths, s.buffers);
  return state;
};

describe("new IntSlider()", () => {
  it("opens a jupyter.widget comm with protocol 2.1.0, its state, and layout and style opened first", () => {
    const s = new W.IntSlider({ value: 7, min: 0, max: 10, description: "r" });
    const open = openOf(s.modelId);
    expect(open.metadata).toEqual({ version: "2.1.0" });
    expect(open.data.state).toMatchObject({
      _model_name: "IntSliderModel",
      _model_module: "@jupyter-widgets/controls",
      _model_module_version: "2.0.0",
      _view_name: "IntSliderView",
      value: 7,
      min: 0,
      max: 10,
      description: "r",
    });
    const layoutId = open.data.state.layout.replace("IPY_MODEL_", "");
    const styleId = open.data.state.style.replace("IPY_MODEL_", "");
    expect(openOf(layoutId).data.state._model_name).toBe("LayoutModel");
    expect(openOf(styleId).data.state).toMatchObject({
      _model_name: "SliderStyleModel",
      _view_module: "@jupyter-widgets/base",
      _view_name: "StyleView",
    });
    const order = opens().map((o) => o.commId);
    expect(order.indexOf(layoutId)).toBeLessThan(order.indexOf(s.modelId));
    expect(order.indexOf(styleId)).toBeLessThan(order.indexOf(s.modelId));
  });

  it("value = x sends an update with only the changed trait", () => {
    const s = new W.IntSlider({ value: 1 });
    fake.clear();
    s.value = 5;
    expect(fake.messagesTo(s.modelId)).toEqual([
      expect.objectContaining({ kind: "msg", data: { method: "update", state: { value: 5 }, buffer_paths: [] } }),
    ]);
    s.value = 5;
    expect(fake.messagesTo(s.modelId)).toHaveLength(1);
  });

  it("an update from the view is echoed (echo_update) before observers run, and sets the value", () => {
    const s = new W.IntSlider({ value: 1 });
    const seen: string[] = [];
    s.onChange((v, old) =>
      seen.push(
        `${old}->${v} after ${fake
          .messagesTo(s.modelId)
          .map((m) => m.data.method)
          .join(",")}`,
      ),
    );
    fake.clear();
    fake.fromFrontend(s.modelId, { method: "update", state: { value: 9 }, buffer_paths: [] });
    expect(s.value).toBe(9);
    expect(fake.messagesTo(s.modelId)[0].data).toEqual({ method: "echo_update", state: { value: 9 }, buffer_paths: [] });
    expect(seen).toEqual(["1->9 after echo_update"]);
  });

  it("request_state is answered with an update carrying the full state", () => {
    const s = new W.IntSlider({ value: 3, max: 4 });
    const opened = openOf(s.modelId).data.state;
    fake.clear();
    fake.fromFrontend(s.modelId, { method: "request_state" });
    const [reply] = fake.messagesTo(s.modelId);
    expect(reply.data.method).toBe("update");
    expect(reply.data.state).toEqual(opened);
  });
});

describe("Widget buffers", () => {
  it("number arrays of a figure go as Float64 buffers that the front end's put_buffers restores", () => {
    const q = new W.ScheduleExplorer({ scheduleType: "linear", warmupSteps: 10, numTrainingSteps: 100, peakLr: 1e-3 });
    const open = openOf(q.modelId);
    expect(open.buffers.length).toBeGreaterThan(0);
    expect(open.data.buffer_paths).toContainEqual(["figure", "data", 0, "y"]);
    const state = stateWithBuffers(open);
    const y = new Float64Array(state.figure.data[0].y.buffer, state.figure.data[0].y.byteOffset, 101);
    // HF's linear schedule with warmup: step/10 during warmup, then (100 - step) / 90, times the peak LR.
    const expected = Array.from({ length: 101 }, (_, t) => 1e-3 * (t < 10 ? t / 10 : Math.max(0, (100 - t) / 90)));
    y.forEach((v, t) => expect(v).toBeCloseTo(expected[t], 12));
  });

  it("buffers sent from the view arrive as DataViews at their paths (custom and update)", () => {
    class Arrays extends W.LabWidget {
      constructor() {
        super("Arrays", { data: null });
        this.open();
      }
      protected override fromView(name: string, value: unknown): unknown {
        return name === "data" ? W.float64(value as DataView) : value;
      }
    }
    const a = new Arrays();
    const got: number[][] = [];
    a.onCustom((content, buffers) => got.push([content.n, ...W.float64(buffers[0])]));
    const { state, buffer_paths, buffers } = remove_buffers({ data: new Float64Array([1.5, -2, 3]) }) as any;
    fake.fromFrontend(a.modelId, { method: "update", state, buffer_paths }, buffers);
    expect([...a.get<Float64Array>("data")]).toEqual([1.5, -2, 3]);
    fake.fromFrontend(a.modelId, { method: "custom", content: { n: 2 } }, [new Float64Array([4, 5])]);
    expect(got).toEqual([[2, 4, 5]]);
  });

  it("removeBuffers splits nested typed arrays as the front end's remove_buffers does", () => {
    const input = { a: [1, new Float64Array([1, 2])], b: { c: new Uint8Array([7]), d: "x" } };
    const mine = W.removeBuffers(input as any);
    const theirs = remove_buffers(structuredClone(input) as any) as any;
    expect(mine.bufferPaths).toEqual(theirs.buffer_paths);
    expect(mine.state).toEqual(theirs.state);
    expect(mine.buffers.map((b) => [...new Uint8Array(b.buffer, b.byteOffset, b.byteLength)])).toEqual(
      theirs.buffers.map((b: any) => [...new Uint8Array(b.buffer ?? b, b.byteOffset ?? 0, b.byteLength)]),
    );
  });
});

describe("Button", () => {
  it("a click custom message runs the click handlers; send() reaches the view as a custom message", () => {
    const b = new W.Button({ description: "go" });
    expect(openOf(b.modelId).data.state).toMatchObject({ _model_name: "ButtonModel", description: "go" });
    let clicks = 0;
    b.onClick(() => clicks++);
    fake.fromFrontend(b.modelId, { method: "custom", content: { event: "click" } });
    expect(clicks).toBe(1);
    fake.clear();
    b.send({ hello: 1 }, [new Uint8Array([1, 2])]);
    const [m] = fake.messagesTo(b.modelId);
    expect(m.data).toEqual({ method: "custom", content: { hello: 1 } });
    expect([...new Uint8Array(m.buffers[0].buffer, m.buffers[0].byteOffset, 2)]).toEqual([1, 2]);
  });
});

describe("jupyter.widget.control", () => {
  it("request_states is answered with update_states for every live widget, buffers keyed by model id", () => {
    const s = new W.FloatSlider({ value: 0.5 });
    const e = new W.ScheduleExplorer();
    const box = new W.VBox([s]);
    const ctl = fake.frontendOpen("jupyter.widget.control");
    fake.fromFrontend(ctl, { method: "request_states" });
    const [reply] = fake.messagesTo(ctl);
    expect(reply.data.method).toBe("update_states");
    expect(reply.data.states[s.modelId]).toEqual({
      model_name: "FloatSliderModel",
      model_module: "@jupyter-widgets/controls",
      model_module_version: "2.0.0",
      state: openOf(s.modelId).data.state,
    });
    expect(reply.data.states[box.modelId].state.children).toEqual([`IPY_MODEL_${s.modelId}`]);
    const figurePaths = reply.data.buffer_paths.filter((p: any[]) => p[0] === e.modelId);
    expect(figurePaths).toEqual(openOf(e.modelId).data.buffer_paths.map((p: any[]) => [e.modelId, ...p]));
    expect(reply.buffers).toHaveLength(reply.data.buffer_paths.length);
  });
});

describe("widget.display()", () => {
  it("sends the widget-view MIME bundle (model id, version 2.1) with a text/plain fallback", () => {
    const shown: any[] = [];
    (globalThis as any)[Symbol.for("lora-lab.display")] = (content: any, update: boolean) => shown.push({ content, update });
    const s = new W.Checkbox({ value: true, description: "on" });
    W.display(s);
    expect(shown).toHaveLength(1);
    expect(shown[0].update).toBe(false);
    expect(shown[0].content.data["application/vnd.jupyter.widget-view+json"]).toEqual({
      model_id: s.modelId,
      version_major: 2,
      version_minor: 1,
    });
    expect(shown[0].content.data["text/plain"]).toBe('Checkbox(description="on", value=true)');
    delete (globalThis as any)[Symbol.for("lora-lab.display")];
  });
});

describe("Dropdown, Tab, Output", () => {
  it("Dropdown syncs index and _options_labels; a view's index change sets value", () => {
    const d = new W.Dropdown({
      options: [
        ["NF4", "nf4"],
        ["FP4", "fp4"],
      ],
      value: "fp4",
    });
    expect(openOf(d.modelId).data.state).toMatchObject({ _options_labels: ["NF4", "FP4"], index: 1 });
    fake.fromFrontend(d.modelId, { method: "update", state: { index: 0 }, buffer_paths: [] });
    expect(d.value).toBe("nf4");
    expect(() => (d.value = "int4")).toThrow(/not an option; options are NF4, FP4/);
  });

  it("Tab sends children as IPY_MODEL refs with titles; Output appends outputs", () => {
    const a = new W.HTML("<b>a</b>");
    const o = new W.Output();
    const t = new W.Tab([a, o], { titles: ["A", "O"] });
    expect(openOf(t.modelId).data.state).toMatchObject({
      children: [`IPY_MODEL_${a.modelId}`, `IPY_MODEL_${o.modelId}`],
      titles: ["A", "O"],
      selected_index: 0,
    });
    expect(openOf(o.modelId).data.state._model_module).toBe("@jupyter-widgets/output");
    fake.clear();
    o.appendStdout("hi\n");
    expect(fake.messagesTo(o.modelId)[0].data.state.outputs).toEqual([{ output_type: "stream", name: "stdout", text: "hi\n" }]);
  });
});

describe("widget.close()", () => {
  it("closes the comm and drops the widget from request_states replies", () => {
    const s = new W.Text({ value: "x" });
    s.close();
    expect(fake.messagesTo(s.modelId).map((m) => m.kind)).toEqual(["open", "close"]);
    const ctl = fake.frontendOpen("jupyter.widget.control");
    fake.fromFrontend(ctl, { method: "request_states" });
    expect(Object.keys(fake.messagesTo(ctl)[0].data.states)).not.toContain(s.modelId);
  });
});
