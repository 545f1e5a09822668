/**
 * Test page: a widget manager that extends html-manager's HTMLManager, renders saved widget state
 * (no kernel) or live widgets through a kernel reached with @jupyterlab/services. lora-lab's views
 * come from the AMD bundle (widgets/dist/index.js), loaded through a minimal `define`.
 */
import * as base from "@jupyter-widgets/base";
import { HTMLManager } from "@jupyter-widgets/html-manager/lib/htmlmanager";
import { KernelManager, ServerConnection, KernelMessage } from "@jupyterlab/services";

const w = window as any;
w.jupyterWidgetsBase = base;

/** The AMD bundle calls define(["@jupyter-widgets/base"], factory): hand it this page's base. */
function loadAmd(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    w.define = (deps: string[], factory: (...args: any[]) => any) => {
      resolve(factory(...deps.map((d) => (d === "@jupyter-widgets/base" ? base : undefined))));
    };
    w.define.amd = {};
    const s = document.createElement("script");
    s.src = url;
    s.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.append(s);
  });
}

class LabManager extends HTMLManager {
  kernel: any;
  labModule: Promise<any>;
  constructor(labModule: Promise<any>, kernel?: any) {
    super({
      loader: async (name: string) => {
        if (name === "lora-lab-widgets") return labModule;
        throw new Error(`no module ${name}`);
      },
    });
    this.labModule = labModule;
    this.kernel = kernel;
    if (kernel) {
      kernel.registerCommTarget("jupyter.widget", async (comm: any, msg: any) => {
        await this.handle_comm_open(new base.shims.services.Comm(comm), msg);
      });
    }
  }
  override async _create_comm(target: string, modelId: string, data?: any, metadata?: any, buffers?: any): Promise<any> {
    if (!this.kernel) return super._create_comm(target, modelId, data, metadata, buffers);
    const comm = this.kernel.createComm(target, modelId);
    if (data || metadata) comm.open(data, metadata, buffers);
    return new base.shims.services.Comm(comm);
  }
  override async _get_comm_info(): Promise<any> {
    if (!this.kernel) return {};
    const reply = await this.kernel.requestCommInfo({ target_name: "jupyter.widget" });
    return reply.content.status === "ok" ? reply.content.comms : {};
  }
}

/** Renders every widget of a saved widget-state document into #out, one div per view id. */
w.renderSaved = async (bundleUrl: string, widgetState: any, viewIds: string[]) =>
  w.renderSavedWith(loadAmd(bundleUrl), widgetState, viewIds);

/** The same with the lora-lab-widgets module given (e.g. the labextension's exports). */
w.renderSavedWith = async (labModule: any, widgetState: any, viewIds: string[]) => {
  const manager = new LabManager(Promise.resolve(labModule));
  await manager.set_state(widgetState);
  for (const id of viewIds) {
    const div = document.createElement("div");
    div.className = "view";
    div.dataset.modelId = id;
    document.getElementById("out")!.append(div);
    const model = await manager.get_model(id);
    await manager.display_view(manager.create_view(model), div);
  }
  return true;
};

/** Connects to a kernel on a jupyter_server (token auth) and renders widgets the kernel displays. */
w.connectKernel = async (bundleUrl: string, baseUrl: string, token: string, kernelName: string) => {
  const serverSettings = ServerConnection.makeSettings({ baseUrl, wsUrl: baseUrl.replace(/^http/, "ws"), token });
  const kernels = new KernelManager({ serverSettings });
  const kernel = await kernels.startNew({ name: kernelName });
  const manager = new LabManager(loadAmd(bundleUrl), kernel);
  w.labKernel = kernel;
  w.labManager = manager;
  w.execute = async (code: string) => {
    const future = kernel.requestExecute({ code, stop_on_error: true });
    const outputs: any[] = [];
    future.onIOPub = async (msg: any) => {
      const t = msg.header.msg_type;
      if (t === "display_data" || t === "execute_result") {
        const view = msg.content.data["application/vnd.jupyter.widget-view+json"];
        if (view) {
          const div = document.createElement("div");
          div.className = "view";
          div.dataset.modelId = view.model_id;
          document.getElementById("out")!.append(div);
          const model = await manager.get_model(view.model_id);
          await manager.display_view(manager.create_view(model), div);
        }
        outputs.push(msg.content.data["text/plain"] ?? "");
      } else if (t === "stream") outputs.push(msg.content.text);
      else if (t === "error") outputs.push(`${msg.content.ename}: ${msg.content.evalue}`);
    };
    const reply = await future.done;
    return { status: reply.content.status, outputs, error: (reply.content as any).evalue };
  };
  /** Runs a cell without waiting for it (a long training loop), returns at once. */
  w.executeBackground = (code: string) => {
    w.lastBackground = w.execute(code);
    return true;
  };
  return kernel.id;
};
void KernelMessage;
