/**
 * The command-line parser, as a table: each row a command line, and what it
 * parses to or the one line it fails with.
 */

import assert from "node:assert/strict";
import { ArgvError, type OptionSpecs, parseArgv } from "../src/cli/argv.ts";

const OPTIONS: OptionSpecs = {
  output: { type: "string", short: "o" },
  verbose: { type: "boolean", short: "v" },
  include: { type: "boolean", short: "i" },
  scope: { type: "string", multiple: true },
  authority: { type: "string" },
};

const PARSES: [string, string[], Record<string, unknown>, string[], number][] = [
  ["nothing", [], {}, [], 0],
  ["a long option and its value", ["--output", "json"], { output: "json" }, [], 0],
  ["--name=value", ["--output=json"], { output: "json" }, [], 0],
  ["--name= (an empty value)", ["--output="], { output: "" }, [], 0],
  ["a value that starts with a dash", ["--output", "-x"], { output: "-x" }, [], 0],
  ["a value with =", ["--authority=https://a/b?c=d"], { authority: "https://a/b?c=d" }, [], 0],
  ["a short option and its value", ["-o", "json"], { output: "json" }, [], 0],
  ["a short option with its value attached", ["-ojson"], { output: "json" }, [], 0],
  ["grouped booleans", ["-vi"], { verbose: true, include: true }, [], 0],
  [
    "grouped booleans ending in one with a value",
    ["-vio", "env"],
    { verbose: true, include: true, output: "env" },
    [],
    0,
  ],
  ["a repeated option", ["--scope", "a", "--scope", "b c"], { scope: ["a", "b c"] }, [], 0],
  ["the last of a repeated single option", ["-o", "raw", "-o", "json"], { output: "json" }, [], 0],
  ["positionals among options", ["get", "-v", "x"], { verbose: true }, ["get", "x"], 2],
  ["-- ends the options", ["-v", "--", "-o", "x"], { verbose: true }, ["-o", "x"], 0],
  ["a lone dash is a positional", ["-"], {}, ["-"], 1],
];

for (const [name, args, values, positionals, before] of PARSES) {
  Deno.test(`parseArgv(): ${name}`, () => {
    const parsed = parseArgv(args, OPTIONS);
    assert.deepEqual(parsed.values, values);
    assert.deepEqual(parsed.positionals, positionals);
    assert.equal(parsed.beforeSeparator, before);
  });
}

const FAILS: [string, string[], string][] = [
  ["an unknown long option", ["--frobnicate"], "unknown option --frobnicate"],
  [
    "a misspelt long option",
    ["--autority", "x"],
    "unknown option --autority; did you mean --authority?",
  ],
  ["an unknown short option", ["-x"], "unknown option -x"],
  ["an unknown short option in a group", ["-vx"], "unknown option -x"],
  ["a long option without its value", ["--output"], "option --output needs a value"],
  ["a short option without its value", ["-o"], "option -o (--output) needs a value"],
  ["a boolean given a value", ["--verbose=yes"], "option --verbose takes no value"],
];

for (const [name, args, message] of FAILS) {
  Deno.test(`parseArgv() refuses ${name} in one line naming it`, () => {
    assert.throws(() => parseArgv(args, OPTIONS), (error: unknown) => {
      assert.ok(error instanceof ArgvError);
      assert.equal(error.message, message);
      return true;
    });
  });
}
