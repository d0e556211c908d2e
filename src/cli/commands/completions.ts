/**
 * `deviceflow completions bash|zsh|fish`: shell completion scripts, made from
 * the command registry so that every command and option is in them.
 *
 * @module
 */

import { optionsFor, SETTINGS } from "../settings.ts";
import { UsageError, type Values } from "../args.ts";
import type { Command } from "../context.ts";
import { EXIT } from "../io.ts";
import type { GuardedIo } from "../format.ts";

/** The shells there is a completion script for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
/** A shell there is a completion script for. */
export type Shell = typeof SHELLS[number];

const HELP = `Usage: deviceflow completions bash|zsh|fish

Prints a completion script for the shell: every command and option, the values of
--output, --provider and --request, and file names for --cache, --config and --data-file.

  bash   deviceflow completions bash > ~/.local/share/bash-completion/completions/deviceflow
         (or, without bash-completion: source <(deviceflow completions bash) in ~/.bashrc)
  zsh    deviceflow completions zsh > ~/.zfunc/_deviceflow
         with fpath=(~/.zfunc $fpath); autoload -U compinit; compinit in ~/.zshrc
  fish   deviceflow completions fish > ~/.config/fish/completions/deviceflow.fish

  -h, --help               Show this help
`;

/** Options whose value is a file name, from the settings table. */
const FILE_OPTIONS = new Set(
  Object.entries(SETTINGS).filter(([, s]) => s.complete === "file").map(([name]) => name),
);
/** Options whose value is one of a few words, from the settings table. */
const CHOICES: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.entries(SETTINGS).flatMap(([name, s]) =>
    Array.isArray(s.complete) ? [[name, s.complete as readonly string[]]] : []
  ),
);
/** The words a command takes besides options, where they are a few words. */
const ARGUMENTS: Readonly<Record<string, readonly string[]>> = {
  completions: SHELLS,
  config: ["list", "show", "path"],
  "git-credential": ["get", "store", "erase"],
};
/** What each shell offers for the top level besides the commands. */
const TOP_LEVEL = ["--help", "--version"];

/** One option of a command, as the scripts need it. */
interface OptionSpec {
  readonly name: string;
  readonly short: string | undefined;
  readonly takesValue: boolean;
  readonly repeatable: boolean;
  readonly description: string;
}

/** One command, as the scripts need it. */
interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  /** The words it takes besides options, when they are a few words. */
  readonly words: readonly string[];
  /** Whether it takes other arguments (a URL, a token, ...). */
  readonly takesArguments: boolean;
  /** Whether a command line of its own follows `--` (as for `run`). */
  readonly commandLine: boolean;
}

function specs(commands: Readonly<Record<string, Command>>): CommandSpec[] {
  const names = Object.keys(commands);
  const list: CommandSpec[] = Object.entries(commands).map(([name, command]) => ({
    name,
    summary: command.summary,
    options: Object.entries(command.options).map(([option, config]) => ({
      name: option,
      short: config.short,
      takesValue: config.type === "string",
      repeatable: config.multiple === true,
      description: SETTINGS[option]?.text || describeOption(command.help, option),
    })),
    words: ARGUMENTS[name] ?? [],
    takesArguments: command.positionals === true,
    commandLine: command.positionals === "after-separator",
  }));
  list.push({
    name: "help",
    summary: "Show the help of a command",
    options: [],
    words: names,
    takesArguments: true,
    commandLine: false,
  });
  return list;
}

/** The option's line in the help text, without the variable it is also read from. */
function describeOption(help: string, option: string): string {
  const escaped = option.replace(/[-]/g, "\\-");
  const line = help.match(
    new RegExp(`^\\s*(?:-\\w, )?--${escaped}(?=[\\s,]).*?\\s{2,}(\\S.*)$`, "m"),
  );
  return (line?.[1] ?? "").replace(/\s*\[[A-Z_]+\]\s*$/, "").trim();
}

/**
 * The completion script for a shell.
 *
 * @param shell The shell.
 * @param commands The commands, by name.
 * @returns The script.
 */
export function completionScript(
  shell: Shell,
  commands: Readonly<Record<string, Command>>,
): string {
  const list = specs(commands);
  switch (shell) {
    case "bash":
      return bashScript(list);
    case "zsh":
      return zshScript(list);
    case "fish":
      return fishScript(list);
  }
}

// ---------------------------------------------------------------------------- bash

function bashScript(list: CommandSpec[]): string {
  const cases = list.map((command) => {
    const flags = command.options.flatMap((
      o,
    ) => [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])]);
    const values = command.options.filter((o) => o.takesValue).map((o) => {
      const patterns = [`--${o.name}`, ...(o.short ? [`-${o.short}`] : [])].join("|");
      const words = CHOICES[o.name];
      const action = FILE_OPTIONS.has(o.name)
        ? `compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))`
        : words
        ? `COMPREPLY=($(compgen -W "${words.join(" ")}" -- "$cur"))`
        : "COMPREPLY=()";
      return `        ${patterns}) ${action}; return ;;`;
    });
    const separator = command.commandLine
      ? `      if [[ $separator -gt 0 ]]; then
        if [[ $((separator + 1)) -eq $COMP_CWORD ]]; then
          COMPREPLY=($(compgen -c -- "$cur"))
        else
          compopt -o default 2>/dev/null; COMPREPLY=()
        fi
        return
      fi
`
      : "";
    return `    ${bashWord(command.name)})
${separator}      case "$prev" in
${values.join("\n")}${values.length ? "\n" : ""}      esac
      words="${[...flags, ...command.words].join(" ")}"
      ;;`;
  });
  return `# bash completion for deviceflow                          -*- shell-script -*-
# Install: deviceflow completions bash > ~/.local/share/bash-completion/completions/deviceflow

_deviceflow() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local command="" separator=0 words i
  # "--name=value" arrives as three words: --name, = and value.
  if [[ $cur == "=" ]]; then
    cur=""
  elif [[ $prev == "=" && $COMP_CWORD -ge 2 ]]; then
    prev="\${COMP_WORDS[COMP_CWORD-2]}"
  fi
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ -z $command ]]; then
      [[ \${COMP_WORDS[i]} != -* ]] && command="\${COMP_WORDS[i]}"
    elif [[ \${COMP_WORDS[i]} == "--" ]]; then
      separator=$i
      break
    fi
  done
  case "$command" in
    "")
      COMPREPLY=($(compgen -W "${
    [...list.map((c) => c.name), ...TOP_LEVEL, "-h", "-V"].join(" ")
  }" -- "$cur"))
      return
      ;;
${cases.join("\n")}
    *)
      compopt -o default 2>/dev/null; COMPREPLY=()
      return
      ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -F _deviceflow deviceflow
`;
}

function bashWord(word: string): string {
  return /^[\w-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

// ---------------------------------------------------------------------------- zsh

function zshQuote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** Text inside an _arguments description: brackets and colons are its syntax. */
function zshText(text: string): string {
  return text.replace(/([\[\]:\\])/g, "\\$1");
}

function zshOption(o: OptionSpec): string {
  const words = CHOICES[o.name];
  const action = FILE_OPTIONS.has(o.name) ? "_files" : words ? `(${words.join(" ")})` : " ";
  const value = o.takesValue ? `:${zshText(o.name)}:${action}` : "";
  const description = `[${zshText(o.description || o.name)}]`;
  const repeat = o.repeatable ? "*" : "";
  if (!o.short) {
    return zshQuote(`${repeat}--${o.name}${o.takesValue ? "=" : ""}${description}${value}`);
  }
  const exclusive = o.repeatable ? "" : `(-${o.short} --${o.name})`;
  return `${zshQuote(`${exclusive}${repeat}`)}{-${o.short}${o.takesValue ? "+" : ""},--${o.name}${
    o.takesValue ? "=" : ""
  }}${zshQuote(`${description}${value}`)}`;
}

function zshScript(list: CommandSpec[]): string {
  const commands = list.map((c) =>
    `    ${zshQuote(`${c.name}:${c.summary.replaceAll(":", "\\:")}`)}`
  );
  const cases = list.map((command) => {
    const specsText = command.options.map((o) => `        ${zshOption(o)}`);
    if (command.words.length) {
      specsText.push(`        ${zshQuote(`1:argument:(${command.words.join(" ")})`)}`);
    } else if (command.takesArguments) {
      specsText.push(`        ${zshQuote("*:argument:_default")}`);
    }
    const separator = command.commandLine
      ? `      local at=\${words[(i)--]}
      if (( at < CURRENT )); then
        shift at words
        (( CURRENT -= at ))
        _normal
        return
      fi
`
      : "";
    return `    ${zshQuote(command.name)})
${separator}      _arguments -s -S${specsText.map((line) => ` \\\n${line}`).join("")}
      ;;`;
  });
  return `#compdef deviceflow
# zsh completion for deviceflow
# Install: deviceflow completions zsh > ~/.zfunc/_deviceflow
# with fpath=(~/.zfunc $fpath); autoload -U compinit; compinit in ~/.zshrc

_deviceflow() {
  local -a commands
  commands=(
${commands.join("\n")}
  )
  if (( CURRENT == 2 )); then
    _describe -t commands 'deviceflow command' commands
    _arguments '(- *)'{-h,--help}'[Show the help]' '(- *)'{-V,--version}'[Show the version]'
    return
  fi
  local command=\${words[2]}
  shift words
  (( CURRENT-- ))
  case $command in
${cases.join("\n")}
  esac
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _deviceflow "$@"
else
  compdef _deviceflow deviceflow
fi
`;
}

// ---------------------------------------------------------------------------- fish

function fishQuote(text: string): string {
  return `'${text.replace(/(['\\])/g, "\\$1")}'`;
}

function fishScript(list: CommandSpec[]): string {
  const lines = [
    "# fish completion for deviceflow",
    "# Install: deviceflow completions fish > ~/.config/fish/completions/deviceflow.fish",
    "",
    "# What follows `run ... --` completes as a command line of its own.",
    "function __deviceflow_after_separator",
    "    set -l tokens (commandline -opc)",
    "    set -l at (contains -i -- -- $tokens)",
    "    or return",
    "    set -e tokens[1..$at]",
    "    complete -C (string join ' ' -- (string escape -- $tokens) (commandline -ct))",
    "end",
    "",
    "complete -c deviceflow -f",
    "complete -c deviceflow -n __fish_use_subcommand -s h -l help -d 'Show the help'",
    "complete -c deviceflow -n __fish_use_subcommand -s V -l version -d 'Show the version'",
  ];
  for (const command of list) {
    lines.push(
      `complete -c deviceflow -n __fish_use_subcommand -a ${fishQuote(command.name)} -d ${
        fishQuote(command.summary)
      }`,
    );
  }
  for (const command of list) {
    const when = `-n ${fishQuote(`__fish_seen_subcommand_from ${command.name}`)}`;
    lines.push("");
    for (const o of command.options) {
      const parts = [`complete -c deviceflow ${when}`];
      if (o.short) parts.push(`-s ${o.short}`);
      parts.push(`-l ${o.name}`);
      const words = CHOICES[o.name];
      if (FILE_OPTIONS.has(o.name)) parts.push("-r -F");
      else if (words) parts.push(`-x -a ${fishQuote(words.join(" "))}`);
      else if (o.takesValue) parts.push("-x");
      if (o.description) parts.push(`-d ${fishQuote(o.description)}`);
      lines.push(parts.join(" "));
    }
    if (command.words.length) {
      lines.push(`complete -c deviceflow ${when} -a ${fishQuote(command.words.join(" "))}`);
    }
    if (command.commandLine) {
      lines.push(
        `complete -c deviceflow -n ${
          fishQuote(
            `__fish_seen_subcommand_from ${command.name}; and contains -- -- (commandline -opc)`,
          )
        } -a '(__deviceflow_after_separator)'`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------------------- the command

/**
 * `deviceflow completions`, for the commands the registry holds when it runs.
 *
 * @param registry The commands, by name (a function, since the registry holds this command too).
 * @returns The command.
 */
export function completionsCommand(
  registry: () => Promise<Readonly<Record<string, Command>>>,
): Command {
  return {
    summary: "Print a completion script for bash, zsh or fish",
    options: optionsFor("completions"),
    help: HELP,
    positionals: true,
    run: async (_values: Values, io: GuardedIo, positionals: string[]) => {
      const [shell, extra] = positionals;
      if (shell === undefined || !(SHELLS as readonly string[]).includes(shell)) {
        throw new UsageError(
          shell === undefined
            ? `completions: name a shell: ${SHELLS.join(", ")}`
            : `completions: no completions for "${shell}"; the shells are ${SHELLS.join(", ")}`,
        );
      }
      if (extra !== undefined) throw new UsageError(`completions: unexpected argument "${extra}"`);
      await io.stdout(completionScript(shell as Shell, await registry()));
      return EXIT.ok;
    },
  };
}
