/**
 * No import cycles (issue 11): the module graphs of mod.ts, cli.ts and
 * cache.ts, dynamic and type-only imports included, as `deno info` walks
 * them. A cycle means two modules each need the other: layers must import
 * only downward.
 */

import assert from "node:assert/strict";

interface InfoModule {
  specifier: string;
  dependencies?: {
    isDynamic?: boolean;
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

/** The module graph of an entry point, as `deno info --json` gives it. */
async function moduleGraph(entry: string): Promise<InfoModule[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(`../${entry}`, import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout)).modules;
}

/** The cycles among the project's own modules reachable from an entry point. */
async function cycles(entry: string): Promise<string[]> {
  const modules = await moduleGraph(entry);
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

/** The project's own modules a module loads before it runs: static imports only. */
async function staticGraph(entry: string): Promise<Set<string>> {
  const modules = await moduleGraph(entry);
  const root = new URL("..", import.meta.url).href;
  const byName = new Map(modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const visit = (specifier: string) => {
    if (seen.has(specifier) || !specifier.startsWith(root)) return;
    seen.add(specifier);
    for (const dep of byName.get(specifier)?.dependencies ?? []) {
      if (!dep.isDynamic && dep.code?.specifier) visit(dep.code.specifier);
    }
  };
  visit(new URL(`../${entry}`, import.meta.url).href);
  return new Set([...seen].map((s) => s.slice(root.length)));
}

Deno.test("a cached token loads neither the client, HTTP, the protocol, the prompt nor the QR code", async () => {
  const loaded = new Set([
    ...await staticGraph("cli.ts"),
    ...await staticGraph("src/cli/commands/token.ts"),
  ]);
  const forbidden = [
    "src/client/client.ts",
    "src/client/api_fetch.ts",
    "src/http.ts",
    "src/protocol/discovery.ts",
    "src/protocol/poll.ts",
    "src/protocol/responses.ts",
    "src/protocol/token_result.ts",
    "src/cli/prompt.ts",
    "src/cli/qr.ts",
    "src/cli/session.ts",
    "src/cli/tokens.ts",
  ];
  assert.deepEqual(forbidden.filter((m) => loaded.has(m)), []);
  // And it does load the one lookup the client uses.
  assert.ok(loaded.has("src/client/silent.ts"));
});

/** Every product module: the entry points and src/. */
async function productModules(): Promise<string[]> {
  const root = new URL("..", import.meta.url).pathname;
  const out = ["mod.ts", "cli.ts", "cache.ts"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(`${root}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) out.push(path);
    }
  };
  await walk("src");
  return out.sort();
}

/** The relative imports of a module, resolved to paths from the root. */
async function importsOf(module: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(`../${module}`, import.meta.url));
  const dir = module.includes("/") ? module.slice(0, module.lastIndexOf("/")) : "";
  const found = [...text.matchAll(/^(?:import|export)[^;]*?from "(\.[^"]+)";/gms)]
    .concat([...text.matchAll(/import\("(\.[^"]+)"\)/g)])
    .map((m) => m[1]!);
  return found.map((spec) => {
    const parts = dir ? dir.split("/") : [];
    for (const part of spec.split("/")) {
      if (part === "..") parts.pop();
      else if (part !== ".") parts.push(part);
    }
    return parts.join("/");
  });
}

Deno.test("each layer imports only downward", async () => {
  const layer = (path: string): string =>
    path.startsWith("src/protocol/")
      ? "protocol"
      : path.startsWith("src/cache/")
      ? "cache"
      : path.startsWith("src/client/")
      ? "client"
      : path.startsWith("src/cli/")
      ? "cli"
      : path.startsWith("src/")
      ? (path === "src/http.ts" ? "http" : "leaf")
      : path.startsWith("tests/") || path.startsWith("scripts/")
      ? "outside"
      : "entry";
  // What each layer may import, besides itself.
  const allowed: Record<string, string[]> = {
    leaf: ["leaf"],
    http: ["leaf"],
    protocol: ["leaf", "http"],
    cache: ["leaf"],
    client: ["leaf", "http", "protocol", "cache"],
    cli: ["leaf", "http", "protocol", "cache", "client", "entry"],
    entry: ["leaf", "http", "protocol", "cache", "client", "cli", "entry"],
  };
  const wrong: string[] = [];
  for (const module of await productModules()) {
    const from = layer(module);
    for (const target of await importsOf(module)) {
      const to = layer(target);
      if (to !== from && !allowed[from]!.includes(to)) wrong.push(`${module} -> ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("no product module over 400 lines without saying why in its first comment", async () => {
  const long: string[] = [];
  for (const module of await productModules()) {
    const text = await Deno.readTextFile(new URL(`../${module}`, import.meta.url));
    const lines = text.split("\n").length;
    const first = text.match(/\/\*\*[\s\S]*?\*\//)?.[0] ?? "";
    if (lines > 400 && !/longer than 400 lines because \S/i.test(first.replace(/\n \* ?/g, " "))) {
      long.push(`${module} (${lines} lines)`);
    }
  }
  assert.deepEqual(long, []);
});

Deno.test("no test imports from scripts/, and nothing in src/ imports from tests/", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const wrong: string[] = [];
  for await (const entry of Deno.readDir(`${root}tests`)) {
    if (!entry.name.endsWith(".ts")) continue;
    const imports = await importsOf(`tests/${entry.name}`);
    wrong.push(
      ...imports.filter((i) => i.startsWith("scripts/")).map((i) => `tests/${entry.name} -> ${i}`),
    );
  }
  for (const module of await productModules()) {
    const imports = await importsOf(module);
    wrong.push(...imports.filter((i) => i.startsWith("tests/")).map((i) => `${module} -> ${i}`));
  }
  assert.deepEqual(wrong, []);
});

Deno.test("a private module (its name starts with _) is imported only from its own directory", async () => {
  const wrong: string[] = [];
  for (const module of await productModules()) {
    const dir = module.includes("/") ? module.slice(0, module.lastIndexOf("/")) : "";
    for (const target of await importsOf(module)) {
      const name = target.slice(target.lastIndexOf("/") + 1);
      const targetDir = target.includes("/") ? target.slice(0, target.lastIndexOf("/")) : "";
      if (name.startsWith("_") && targetDir !== dir) wrong.push(`${module} -> ${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});
