/**
 * The docs cannot drift (issue 12): docs/cli.md's option, environment and
 * exit-code tables are what `deno task docs` writes from the code, the
 * README fits on a page, and no document links outside the repository.
 */

import assert from "node:assert/strict";
import { renderReference, withReference } from "../src/cli/reference.ts";
import { SETTINGS } from "../src/cli/settings.ts";
import { EXIT } from "../src/cli/io.ts";

const ROOT = new URL("..", import.meta.url);

Deno.test("docs/cli.md holds exactly what deno task docs writes", async () => {
  const file = await Deno.readTextFile(new URL("docs/cli.md", ROOT));
  assert.equal(file, withReference(file), "docs/cli.md is out of date: run deno task docs");
});

Deno.test("the generated tables list every option, its variable, and every exit code", () => {
  const text = renderReference();
  for (const doc of Object.values(SETTINGS)) {
    if (!doc.usage) continue;
    assert.ok(text.includes(`\`${doc.usage}\``), doc.usage);
    if (doc.env) assert.ok(text.includes(`\`${doc.env}\``), doc.env);
  }
  for (const code of Object.values(EXIT)) assert.match(text, new RegExp(`^\\| ${code} \\|`, "m"));
  assert.ok(text.includes("`--lang LANG`") && text.includes("`DEVICEFLOW_LANG`"));
});

Deno.test("a change to the code's tables would show as drift", () => {
  const file = "intro\n<!-- generated:start -->\nold table\n<!-- generated:end -->\nrest\n";
  assert.notEqual(withReference(file), file);
  assert.equal(withReference(withReference(file)), withReference(file));
});

Deno.test("the README fits on a page, and no document links outside the repository", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const lines = readme.split("\n");
  assert.ok(lines.length <= 260, `README.md has ${lines.length} lines`);
  for (const line of lines) {
    if (line.startsWith("|")) assert.ok(line.length <= 120, `a README table row of ${line.length}`);
  }
  for (const name of ["cli", "library", "cache", "providers", "security", "development"]) {
    const doc = await Deno.readTextFile(new URL(`docs/${name}.md`, ROOT));
    assert.ok(!doc.includes("../shared/"), `docs/${name}.md links outside the repository`);
    assert.ok(readme.includes(`docs/${name}.md`), `the README links docs/${name}.md`);
  }
  assert.ok(!readme.includes("../shared/"));
});
