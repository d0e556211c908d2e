/**
 * One settings table (issue 11): every command's parser, help, completion
 * scripts and the generated docs come from `src/cli/settings.ts`, so an
 * option cannot exist in one and be missing from another.
 */

import assert from "node:assert/strict";
import { COMMAND_NAMES, optionsFor, SETTINGS, sourceName } from "../src/cli/settings.ts";
import type { Command } from "../src/cli/context.ts";
import { renderReference } from "../src/cli/reference.ts";
import { completionScript } from "../src/cli/commands/completions.ts";
import { main } from "../cli.ts";

async function commandOf(name: string): Promise<Command> {
  const module = await import(`../src/cli/commands/${name.replaceAll("-", "_")}.ts`);
  return module.command ?? module.completionsCommand(() => Promise.resolve({}));
}

Deno.test("each command parses exactly the options the settings table gives it", async () => {
  for (const name of COMMAND_NAMES) {
    const command = await commandOf(name);
    assert.deepEqual(
      Object.keys(command.options).sort(),
      Object.keys(optionsFor(name)).sort(),
      name,
    );
  }
});

Deno.test("each command's help lists each of its documented options from the table", async () => {
  // config, decode and completions have hand-written help of a few lines.
  const generated = COMMAND_NAMES.filter((n) => !["config", "decode", "completions"].includes(n));
  for (const name of generated) {
    const help = (await commandOf(name)).help;
    for (const [flag, setting] of Object.entries(SETTINGS)) {
      const takes = setting.commands === "all" || setting.commands.includes(name);
      if (!setting.usage || flag === "help") continue;
      const escaped = setting.usage.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const listed = new RegExp(`^ +${escaped}(?![\\w-])`, "m").test(help);
      assert.equal(listed, takes, `${name} --help and ${setting.usage}`);
    }
  }
});

Deno.test("the completion scripts and the docs offer every option of the table", async () => {
  const commands = Object.fromEntries(
    await Promise.all(COMMAND_NAMES.map(async (n) => [n, await commandOf(n)] as const)),
  );
  const bash = completionScript("bash", commands);
  const docs = renderReference();
  for (const [flag, setting] of Object.entries(SETTINGS)) {
    assert.ok(bash.includes(`--${flag}`), `bash completion lacks --${flag}`);
    if (setting.usage) assert.ok(docs.includes(setting.usage), `docs lack ${setting.usage}`);
  }
});

Deno.test("messages name the flag, the variable or the profile key, as the table says", async () => {
  assert.equal(sourceName("authority", "flag"), "--authority");
  assert.equal(sourceName("authority", "env"), "DEVICEFLOW_AUTHORITY");
  assert.equal(sourceName("client-id", "profile", "work"), `"clientId" of profile "work"`);
  let stderr = "";
  const code = await main(["token", "--cache", ":memory:", "--client-id", "app"], {
    stdout: () => {},
    stderr: (t) => void (stderr += t),
    env: (name) => name === "DEVICEFLOW_PROVIDER" ? "nope" : undefined,
    stderrIsTerminal: false,
  });
  assert.equal(code, 2);
  assert.match(
    stderr,
    /^deviceflow: DEVICEFLOW_PROVIDER must be one of entra, github, google, oidc, not "nope"\n/,
  );
});
