/**
 * No import cycles (issue 11): the module graphs of mod.ts, cli.ts and
 * cache.ts, dynamic and type-only imports included, as `deno info` walks
 * them. A cycle means two modules each need the other: layers must import
 * only downward.
 */

import assert from "node:assert/strict";

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/** The cycles among the project's own modules reachable from an entry point. */
async function cycles(entry: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(`../${entry}`, import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const modules: InfoModule[] = JSON.parse(new TextDecoder().decode(output.stdout)).modules;
  const graph = new Map<string, string[]>();
  for (const module of modules) {
    if (!module.specifier.startsWith("file://")) continue;
    graph.set(
      module.specifier,
      (module.dependencies ?? [])
        .flatMap((d) => [d.code?.specifier, d.type?.specifier])
        .filter((s): s is string => s?.startsWith("file://") === true),
    );
  }
  const found: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const root = new URL("..", import.meta.url).href;
  const visit = (node: string) => {
    state.set(node, "open");
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        found.push(
          [...path.slice(path.indexOf(next)), next].map((s) => s.replace(root, "")).join(" -> "),
        );
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

for (const entry of ["mod.ts", "cli.ts", "cache.ts"]) {
  Deno.test(`the modules ${entry} loads import one another in no cycle`, async () => {
    assert.deepEqual(await cycles(entry), []);
  });
}
