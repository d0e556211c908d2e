/**
 * `deviceflow completions`: the scripts name every command and option, and
 * bash, zsh and fish (where installed) complete with them.
 */

import { needs } from "./support/needs.ts";
import assert from "node:assert/strict";
import type { Command } from "../src/cli/context.ts";
import { runMain } from "./support/cli_harness.ts";

async function script(shell: string): Promise<string> {
  const result = await runMain(["completions", shell]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  return result.stdout;
}

/** The commands `deviceflow --help` lists, with their modules' options. */
async function commands(): Promise<Map<string, Command>> {
  const help = (await runMain(["--help"])).stdout;
  const names = help.split("\nCommands:\n")[1]!.split("\n\n")[0]!
    .split("\n").map((line) => line.trim().split(/\s+/)[0]!);
  assert.ok(names.length >= 10, help);
  const found = new Map<string, Command>();
  for (const name of names) {
    // Each command lives in src/cli/<name>.ts and exports `command`.
    const module = await import(`../src/cli/commands/${name.replaceAll("-", "_")}.ts`);
    found.set(name, module.command ?? module.completionsCommand?.(() => Promise.resolve({})));
  }
  return found;
}

async function installed(program: string): Promise<boolean> {
  try {
    const status = await new Deno.Command(program, {
      args: ["-c", "exit 0"],
      stdout: "null",
      stderr: "null",
    }).output();
    return status.success;
  } catch {
    return false;
  }
}

async function shell(program: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(program, { args, stdin: "null" }).output();
  const decoder = new TextDecoder();
  assert.equal(output.code, 0, decoder.decode(output.stderr));
  return decoder.decode(output.stdout);
}

async function withScript<T>(text: string, name: string, run: (dir: string) => Promise<T>) {
  const dir = await Deno.makeTempDir({ prefix: "deviceflow-completions-" });
  try {
    await Deno.writeTextFile(`${dir}/${name}`, text);
    return await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("completions bash, zsh and fish name every command and every option", async () => {
  const registry = await commands();
  for (const name of ["bash", "zsh", "fish"]) {
    const text = await script(name);
    for (const [command, { options }] of registry) {
      assert.ok(text.includes(command), `${name}: no ${command}`);
      for (const [option, config] of Object.entries(options)) {
        // fish names long options without their dashes (-l cache).
        const spelled = name === "fish" ? `-l ${option}` : `--${option}`;
        assert.ok(text.includes(spelled), `${name}: no ${spelled} (${command})`);
        if (config.short) {
          assert.ok(text.includes(`${config.short}`), `${name}: no -${config.short}`);
        }
      }
    }
    for (const value of ["exec-credential", "github", "oidc"]) {
      assert.ok(text.includes(value), `${name}: no ${value}`);
    }
  }
});

Deno.test("completions without a known shell is a usage error", async () => {
  const none = await runMain(["completions"]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^deviceflow: completions: name a shell: bash, zsh, fish\n/);
  const tcsh = await runMain(["completions", "tcsh"]);
  assert.equal(tcsh.code, 2);
  assert.match(tcsh.stderr, /no completions for "tcsh"/);
  const help = await runMain(["completions", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /~\/\.config\/fish\/completions\/deviceflow\.fish/);
});

/** What bash's completion function offers for a command line (the last word is the one completed). */
function bashCase(words: string[]): string {
  const quoted = words.map((w) => `'${w}'`).join(" ");
  return `COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _deviceflow; ` +
    `echo "${words.join(" ")} => \${COMPREPLY[*]}"`;
}

Deno.test("the bash script registers _deviceflow and completes commands, options and values", async () => {
  await withScript(await script("bash"), "deviceflow.bash", async (dir) => {
    const file = `${dir}/deviceflow.bash`;
    await shell("bash", ["-n", file]);
    await Deno.writeTextFile(`${dir}/probe.txt`, "");
    const cases: [string[], string[]][] = [
      [["deviceflow", "lo"], ["login", "logout"]],
      [["deviceflow", ""], ["login", "token", "completions", "help", "--version"]],
      [["deviceflow", "login", "--ca"], ["--cache"]],
      [["deviceflow", "login", "--provider", ""], ["entra", "github", "google", "oidc"]],
      [["deviceflow", "token", "-o", "e"], ["env", "exec-credential"]],
      [["deviceflow", "token", "--output", "=", "j"], ["json"]],
      [["deviceflow", "completions", ""], ["bash", "zsh", "fish"]],
      [["deviceflow", "help", "to"], ["token"]],
      [["deviceflow", "status", "--cache", `${dir}/pro`], [`${dir}/probe.txt`]],
      [["deviceflow", "fetch", "--data-file", `${dir}/pro`], [`${dir}/probe.txt`]],
      [["deviceflow", "run", "--scope", "x", "--", "bas"], ["bash"]],
    ];
    const program = [
      `source '${file}'`,
      "complete -p deviceflow",
      ...cases.map(([words]) => bashCase(words)),
    ].join("\n");
    const lines = (await shell("bash", ["-c", program])).trim().split("\n");
    assert.equal(lines[0], "complete -F _deviceflow deviceflow");
    cases.forEach(([words, expected], i) => {
      const line = lines[i + 1]!;
      const offered = line.split(" => ")[1]?.split(" ") ?? [];
      for (const word of expected) {
        assert.ok(offered.includes(word), `${words.join(" ")}: ${word} not in ${line}`);
      }
    });
  });
});

Deno.test("the zsh script starts with #compdef deviceflow", async () => {
  const text = await script("zsh");
  assert.match(text, /^#compdef deviceflow\n/);
});

const HAVE_ZSH = await installed("zsh");
Deno.test({
  ...needs(
    "the zsh script completes commands, options and values",
    HAVE_ZSH,
    "zsh is not installed",
  ),
  fn: async () => {
    const text = await script("zsh");
    await withScript(text, "_deviceflow", async (dir) => {
      await shell("zsh", ["-n", `${dir}/_deviceflow`]);
      const capture = new URL("./support/zsh_complete.zsh", import.meta.url).pathname;
      const cases: [string, string[]][] = [
        ["deviceflow lo", ["login", "logout"]],
        ["deviceflow login --ca", ["--cache"]],
        ["deviceflow token --output=", ["raw", "json", "env", "header", "exec-credential"]],
        ["deviceflow login --provider ", ["entra", "github", "google", "oidc"]],
        ["deviceflow completions ", ["bash", "zsh", "fish"]],
      ];
      for (const [line, expected] of cases) {
        // An interactive zsh in a pseudo-terminal can lose the typed line while it starts up on a
        // busy machine (no hits at all, seen once in CI): such a run is tried again, at most twice.
        // A run that offers something is judged as it is.
        let offered: string[] = [];
        for (let attempt = 0; attempt < 3 && !offered.some(Boolean); attempt++) {
          offered = (await shell("zsh", ["-f", capture, dir, line]))
            .split("\n").map((hit) => hit.replace(/^<hit>/, ""));
        }
        for (const word of expected) {
          assert.ok(offered.includes(word), `${line}: ${word} not in ${offered}`);
        }
      }
    });
  },
});

Deno.test("the fish script turns off file completion for deviceflow (complete -c deviceflow -f)", async () => {
  const text = await script("fish");
  assert.match(text, /^complete -c deviceflow -f$/m);
});

const HAVE_FISH = await installed("fish");
Deno.test({
  ...needs(
    "the fish script completes commands, options and values",
    HAVE_FISH,
    "fish is not installed",
  ),
  fn: async () => {
    const text = await script("fish");
    await withScript(text, "deviceflow.fish", async (dir) => {
      await shell("fish", ["-n", `${dir}/deviceflow.fish`]);
      const cases: [string, string[]][] = [
        ["deviceflow lo", ["login", "logout"]],
        ["deviceflow login --ca", ["--cache"]],
        ["deviceflow token -o ", ["raw", "json", "env", "header", "exec-credential"]],
        ["deviceflow login --provider ", ["entra", "github", "google", "oidc"]],
        ["deviceflow completions ", ["bash", "zsh", "fish"]],
        ["deviceflow run --scope x -- bas", ["bash"]],
      ];
      const program = [
        `source '${dir}/deviceflow.fish'`,
        ...cases.map(([line]) =>
          `echo "${line} =>" (complete -C '${line}' | string split -f1 \\t)`
        ),
      ].join("\n");
      const lines = (await shell("fish", ["-c", program])).trim().split("\n");
      cases.forEach(([line, expected], i) => {
        const offered = lines[i]!.split(" => ")[1]?.split(" ") ?? [];
        for (const word of expected) {
          assert.ok(offered.includes(word), `${line}: ${word} not in ${lines[i]}`);
        }
      });
    });
  },
});
