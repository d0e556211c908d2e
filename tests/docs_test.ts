/**
 * JSR readiness: every export has an example that `deno test --doc` runs,
 * and `deno publish --dry-run` passes (slow types, files, exports).
 */

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

async function deno(args: string[]): Promise<{ success: boolean; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

interface DocNode {
  name: string;
  declarations: {
    kind: string;
    location: { filename: string };
    jsDoc?: { tags?: { kind: string; doc?: string }[] };
  }[];
}

Deno.test("every export of mod.ts, cli.ts and cache.ts has an example that deno test --doc runs", async () => {
  const doc = await deno(["doc", "--json", "mod.ts", "cli.ts", "cache.ts"]);
  assert.ok(doc.success, doc.stderr);
  const nodes = JSON.parse(doc.stdout).nodes as Record<string, { symbols: DocNode[] }>;
  const missing: string[] = [];
  let checked = 0;
  for (const [module, { symbols }] of Object.entries(nodes)) {
    for (const symbol of symbols) {
      for (const declaration of symbol.declarations) {
        // A re-export of another entry point's symbol is checked where it is declared.
        if (declaration.kind === "reference") continue;
        checked++;
        const examples = (declaration.jsDoc?.tags ?? []).filter((t) => t.kind === "example");
        const runs = examples.some((t) =>
          /```(?:ts|typescript)(?![^\n]*\bignore\b)/.test(t.doc ?? "")
        );
        if (!runs) {
          const file = declaration.location.filename.replace(`file://${ROOT}`, "");
          missing.push(`${module.split("/").pop()}: ${symbol.name} (${file})`);
        }
      }
    }
  }
  assert.ok(checked > 40, `only ${checked} exports found`);
  assert.deepEqual(missing, [], "exports without a runnable @example");
});

Deno.test("deno publish --dry-run passes: no slow types, and the package's files and exports resolve", async () => {
  // --allow-dirty: a working tree with changes is what a developer runs this in.
  const result = await deno(["publish", "--dry-run", "--allow-dirty"]);
  assert.ok(result.success, result.stderr);
  assert.match(result.stderr, /Checking for slow types in the public API/);
  assert.match(result.stderr, /Simulating publish of @deviceflow\/deviceflow@\d+\.\d+\.\d+/);
  assert.match(result.stderr, /Success Dry run complete/);
  // What tests, scripts and the tools directory hold is not published.
  assert.doesNotMatch(result.stderr, /\/(tests|scripts|\.tools|dist)\//);
});
