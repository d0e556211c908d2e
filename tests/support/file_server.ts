/**
 * A static file server on loopback for the working tree, so that tests can
 * `deno run http://127.0.0.1:PORT/cli.ts` as users run it from a URL.
 *
 * @module
 */

const TYPES: Readonly<Record<string, string>> = {
  ts: "application/typescript; charset=utf-8",
  json: "application/json; charset=utf-8",
  md: "text/markdown; charset=utf-8",
};

/** A running file server. */
export interface FileServer {
  /** The base URL, ending in a slash. */
  readonly url: string;
  /** The paths that were asked for, in order. */
  readonly requested: string[];
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Serves the files of a directory: only `.ts`, `.json` and `.md` files, only
 * by GET, and nothing under a directory whose name starts with a dot.
 *
 * @param root The directory.
 * @returns The server.
 */
export function serveFiles(root: string): FileServer {
  const requested: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const path = decodeURIComponent(new URL(request.url).pathname);
      requested.push(path);
      const type = TYPES[path.split(".").pop() ?? ""];
      if (request.method !== "GET" || !type || path.split("/").some((p) => p.startsWith("."))) {
        return new Response("Not found\n", { status: 404 });
      }
      try {
        return new Response(await Deno.readFile(`${root}${path}`), {
          headers: { "content-type": type },
        });
      } catch {
        return new Response("Not found\n", { status: 404 });
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    requested,
    close: () => server.shutdown(),
  };
}
