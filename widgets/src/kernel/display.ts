/** `display(widget)`: shows a widget in the running cell's output (the same as `widget.display()`). */
import type { Widget } from "./widget.js";

export function display(...widgets: Widget[]): void {
  for (const w of widgets) w.display();
}
