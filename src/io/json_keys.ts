/**
 * JSON.parse keeps the last of two equal keys silently; a safetensors header with a duplicated
 * tensor name would then lose a tensor (or point two names' worth of bytes at one). This scanner
 * walks the raw text once to find such keys.
 */

export interface DuplicateKey {
  key: string;
  /** Keys of the objects enclosing the duplicate: [] at the top level, ["w"] inside entry "w". */
  path: string[];
}

interface Frame {
  keys: Set<string> | null; // null for arrays
  name: string | undefined; // key this container sits under (undefined at the top)
  expectKey: boolean;
  lastKey: string;
}

/** The first key repeated within one object of `json`, which must already be valid JSON. */
export function findDuplicateKey(json: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    const top = stack[stack.length - 1];
    if (c === '"') {
      const end = endOfString(json, i);
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(json.slice(i, end)) as string;
        if (top.keys.has(key)) return { key, path: pathOf(stack) };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = end - 1;
    } else if (c === "{" || c === "[") {
      const name = top ? (top.keys ? top.lastKey : top.name) : undefined;
      stack.push({ keys: c === "{" ? new Set() : null, name, expectKey: c === "{", lastKey: "" });
    } else if (c === "}" || c === "]") {
      stack.pop();
    } else if (c === "," && top?.keys) {
      top.expectKey = true;
    }
  }
  return undefined;
}

/** Index just past the closing quote of the string starting at `start`. */
function endOfString(json: string, start: number): number {
  let i = start + 1;
  while (i < json.length && json[i] !== '"') i += json[i] === "\\" ? 2 : 1;
  return i + 1;
}

function pathOf(stack: Frame[]): string[] {
  return stack.filter((f) => f.keys && f.name !== undefined).map((f) => f.name as string);
}
