import assert from "node:assert/strict";
import { VERSION } from "../mod.ts";
import { runMain } from "./support/cli_harness.ts";

Deno.test("the version in src/version.ts is the one in deno.json, and --version prints it", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
  assert.equal(VERSION, config.version);
  const result = await runMain(["--version"]);
  assert.equal(result.stdout, `deviceflow ${VERSION}\n`);
  assert.equal(result.code, 0);
});
