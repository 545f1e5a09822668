/**
 * A fake Hugging Face hub for fromPretrained's downloads (hub.test.ts, sharded.test.ts): the HTTP
 * surface that @huggingface/hub uses to download a file: GET {hub}/{repo}/resolve/{revision}/{path} with a Range header, 206 + Content-Range for ranges,
 * an ETag on every file, 404 + X-Error-Code EntryNotFound for files the repository lacks.
 */
export function fakeHub(repo: string, files: Record<string, Uint8Array>) {
  const requests: string[] = [];
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    requests.push(url.pathname);
    const match = url.pathname.match(/^\/(.+)\/resolve\/([^/]+)\/(.+)$/);
    if (!match || match[1] !== repo) return new Response("no such repo", { status: 404, headers: { "X-Error-Code": "RepoNotFound" } });
    const body = files[decodeURIComponent(match[3])];
    if (!body) return new Response("missing", { status: 404, headers: { "X-Error-Code": "EntryNotFound" } });
    const range = new Headers(init?.headers).get("Range");
    if (range) {
      const [, a, b] = range.match(/bytes=(\d+)-(\d*)/)!;
      const start = Number(a);
      const end = b === "" ? body.length - 1 : Math.min(Number(b), body.length - 1);
      return new Response(body.slice(start, end + 1), {
        status: 206,
        headers: {
          "Content-Range": `bytes ${start}-${end}/${body.length}`,
          "Content-Length": String(end - start + 1),
          ETag: `"${body.length}"`,
        },
      });
    }
    return new Response(body, { status: 200, headers: { "Content-Length": String(body.length), ETag: `"${body.length}"` } });
  };
  return { fetch: fetchImpl as typeof fetch, requests };
}
