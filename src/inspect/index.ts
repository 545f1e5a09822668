export * from "./rank.js";
export * from "./table.js";
