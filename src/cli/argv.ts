/**
 * A small command-line parser: long options (`--name value`, `--name=value`),
 * short ones (`-o json`, `-ojson`, `-vi`), repeated ones, and `--`. It replaces
 * node:util's parseArgs, whose import alone costs `deviceflow token` a third
 * of its start-up time.
 *
 * @module
 */

import { didYouMean } from "../suggest.ts";

/** How one option is written. */
export interface OptionSpec {
  /** A string takes a value; a boolean does not. */
  readonly type: "string" | "boolean";
  /** A one-letter alias, used as `-x`. */
  readonly short?: string;
  /** Whether it may be given several times (its values are collected in an array). */
  readonly multiple?: boolean;
}

/** Options by long name. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** What a command line parses to. */
export interface ParsedArgv {
  /** Option values by long name. */
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  /** The other arguments, in order. */
  readonly positionals: string[];
  /** How many positionals came before a `--` (all of them when there was none). */
  readonly beforeSeparator: number;
}

/** A malformed command line; the message names the option. */
export class ArgvError extends Error {
  /** Creates the error. @param message What is wrong. */
  constructor(message: string) {
    super(message);
    this.name = "ArgvError";
  }
}

/**
 * Parses arguments against option specs, strictly: unknown options, missing
 * values and values given to boolean options are errors.
 *
 * @param args The arguments.
 * @param options The options.
 * @returns The values and positionals.
 * @throws {ArgvError} For a malformed command line.
 */
export function parseArgv(args: readonly string[], options: OptionSpecs): ParsedArgv {
  const values: Record<string, string | boolean | string[] | boolean[] | undefined> = {};
  const positionals: string[] = [];
  let beforeSeparator = -1;
  const shorts = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) if (spec.short) shorts.set(spec.short, name);

  const set = (name: string, value: string | boolean) => {
    if (options[name]!.multiple) {
      const list = (values[name] ?? []) as (string | boolean)[];
      values[name] = [...list, value] as string[] | boolean[];
    } else {
      values[name] = value;
    }
  };

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      beforeSeparator = positionals.length;
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = Object.hasOwn(options, name) ? options[name] : undefined;
      if (!spec) {
        throw new ArgvError(
          `unknown option --${name}${didYouMean(name, Object.keys(options), (o) => `--${o}`)}`,
        );
      }
      if (spec.type === "boolean") {
        if (eq >= 0) throw new ArgvError(`option --${name} takes no value`);
        set(name, true);
      } else if (eq >= 0) {
        set(name, arg.slice(eq + 1));
      } else if (i + 1 < args.length) {
        set(name, args[++i]!);
      } else {
        throw new ArgvError(`option --${name} needs a value`);
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A group of short options: booleans, the last of which may take a value.
      for (let j = 1; j < arg.length; j++) {
        const letter = arg[j]!;
        const name = shorts.get(letter);
        if (!name) throw new ArgvError(`unknown option -${letter}`);
        if (options[name]!.type === "boolean") {
          set(name, true);
          continue;
        }
        const rest = arg.slice(j + 1);
        if (rest) set(name, rest);
        else if (i + 1 < args.length) set(name, args[++i]!);
        else throw new ArgvError(`option -${letter} (--${name}) needs a value`);
        break;
      }
      continue;
    }
    positionals.push(arg);
  }
  return {
    values,
    positionals,
    beforeSeparator: beforeSeparator < 0 ? positionals.length : beforeSeparator,
  };
}
