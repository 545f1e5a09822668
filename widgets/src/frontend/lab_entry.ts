/** Entry of the JupyterLab extension package: the plugin as default export, the models and views by name. */
export { default } from "./plugin.js";
export * from "./index.js";
