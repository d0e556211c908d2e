/**
 * `deviceflow config list|show|path`: the config file's profiles, and the
 * settings they give once the flags and the environment have had their say.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import { type Config, ConfigError } from "../config_file.ts";
import { defaultConfigPath, dirOf } from "../../paths.ts";
import {
  cacheLocation,
  configPath,
  explainSettings,
  loadConfig,
  selectProfile,
  type ServerSettings,
  type Source,
  UsageError,
  type Values,
} from "../args.ts";
import type { Command } from "../context.ts";
import { commonHelp, SERVER_HELP } from "../help.ts";
import { EXIT } from "../io.ts";
import { type GuardedIo, jsonLine, oneLine, table } from "../format.ts";
import { MissingPermissionsError } from "../permissions.ts";

const MASK = "********";

const help = () =>
  `Usage: deviceflow config list [--json]
       deviceflow config show [NAME] [--json] [options]
       deviceflow config path

Shows the config file's profiles and the settings they give.

  list                     The profiles, one a line; * marks the one that applies
  show [NAME]              The settings of a profile (default: the one that applies) after
                           the flags and the environment, and where each came from;
                           secrets are masked
  path                     The config file's path
  --json                   Print JSON (list and show)

The config file, --config PATH [DEVICEFLOW_CONFIG], by default
  ${configFileHelp()}
holds named profiles:

  {"profiles": {"default": {"authority": "https://login.example.com", "clientId": "ID",
                            "scopes": ["api"]}}}

A profile may set provider, authority, tenant, clientId, scopes (a list or one
space-separated string), deviceEndpoint, tokenEndpoint, revocationEndpoint, cache
(relative to the config file), defaultScopes (true or false) and clientSecret (keep the
file private: chmod 600). --profile NAME [DEVICEFLOW_PROFILE] picks one; otherwise the
profile named "default" applies, if there is one. Flags win, then the environment, then
the profile.

${SERVER_HELP}
${commonHelp()}`;

const SUBCOMMANDS = "list, show or path";

async function config(values: Values, io: GuardedIo, positionals: string[]): Promise<number> {
  const [subcommand, ...rest] = positionals;
  const most = subcommand === "show" ? 1 : 0;
  if (rest.length > most) {
    throw new UsageError(`config ${subcommand}: unexpected argument "${rest[most]}"`);
  }
  switch (subcommand) {
    case "list":
      return await list(values, io);
    case "show":
      return await show(values, io, rest[0]);
    case "path":
      return await path(values, io);
    case undefined:
      throw new UsageError(`config: say which: ${SUBCOMMANDS}`);
    default:
      throw new UsageError(`config: unknown subcommand "${subcommand}"; use ${SUBCOMMANDS}`);
  }
}

/**
 * The config file, or the problem that keeps it from being read: `list` and
 * `show` always work, and show what is wrong instead of failing.
 */
function readOrProblem(
  values: Values,
  io: GuardedIo,
): { config: Config | undefined; problem?: ConfigError } {
  try {
    const config = loadConfig(values, io.env);
    if (config?.unreadable) {
      throw new MissingPermissionsError([{ name: "read", target: dirOf(config.path) }]);
    }
    warn(config, io);
    return { config };
  } catch (error) {
    // A file named with --config that cannot be read is a mistake on the command line.
    if (!(error instanceof ConfigError) || error.problem.startsWith("cannot read")) throw error;
    return { config: undefined, problem: error };
  }
}

/** The profile that applies, by name, without failing when it has a mistake. */
function appliesName(values: Values, io: GuardedIo, config: Config | undefined) {
  const wanted = (values.profile as string | undefined) ??
    (io.env("DEVICEFLOW_PROFILE") || undefined);
  if (wanted !== undefined) return wanted;
  const all = { ...config?.profiles, ...config?.broken };
  return Object.hasOwn(all, "default") ? "default" : undefined;
}

async function list(values: Values, io: GuardedIo): Promise<number> {
  const { config, problem } = readOrProblem(values, io);
  if (problem) {
    if (values.json) await io.stdout(jsonLine({ config: problem.path, error: problem.problem }));
    else await io.stdout(`Config: ${problem.path}\nError: ${problem.problem}\n`);
    return EXIT.ok;
  }
  const applies = appliesName(values, io, config);
  const broken = config?.broken ?? {};
  const names = [...Object.keys(config?.profiles ?? {}), ...Object.keys(broken)];
  if (values.json) {
    await io.stdout(
      jsonLine(names.map((name) => ({
        name,
        applies: name === applies,
        ...(Object.hasOwn(broken, name) ? { error: broken[name] } : {}),
      }))),
    );
  } else if (names.length === 0) {
    io.stderr(
      config?.found
        ? `No profiles in ${config.path}\n`
        : `No config file${config ? ` at ${config.path}` : ""}; see 'deviceflow config --help'\n`,
    );
  } else {
    await io.stdout(
      names.map((name) =>
        `${name === applies ? "*" : " "} ${oneLine(name)}${
          Object.hasOwn(broken, name) ? `  (error: ${broken[name]})` : ""
        }`
      ).join("\n") + "\n",
    );
  }
  return EXIT.ok;
}

/** The settings `show` prints, in its order. */
const SHOWN = [
  "provider",
  "authority",
  "clientId",
  "clientSecret",
  "scopes",
  "defaultScopes",
  "deviceEndpoint",
  "tokenEndpoint",
  "revocationEndpoint",
] as const satisfies readonly (keyof ServerSettings)[];

async function show(values: Values, io: GuardedIo, name: string | undefined): Promise<number> {
  const { config, problem } = readOrProblem(values, io);
  const profileName = name ?? appliesName(values, io, config);
  const broken = problem ??
    (config && profileName !== undefined && Object.hasOwn(config.broken, profileName)
      ? new ConfigError(config.path, config.broken[profileName]!)
      : undefined);
  if (broken) {
    // What is wrong is what there is to show.
    if (values.json) {
      await io.stdout(
        jsonLine({ config: broken.path, profile: profileName ?? null, error: broken.problem }),
      );
    } else {
      await io.stdout(
        `Config: ${broken.path}\nProfile: ${
          profileName === undefined ? "(none)" : oneLine(profileName)
        }\nError: ${broken.problem}\n`,
      );
    }
    return EXIT.ok;
  }
  const selected = selectProfile(values, io.env, { name, config });
  const { settings, sources } = explainSettings(values, io.env, selected);
  const shown: Record<string, unknown> = {};
  const from: Record<string, Source> = {};
  for (const key of SHOWN) {
    shown[key] = key === "clientSecret" && settings[key] !== undefined
      ? MASK
      : settings[key] ?? null;
    if (sources[key]) from[key] = sources[key];
  }
  try {
    const cache = cacheLocation(values, io.env, selected);
    shown.cache = cache.location;
    from.cache = cache.source;
  } catch (error) {
    // No cache directory: the commands that need one say so.
    if (!(error instanceof UsageError)) throw error;
    shown.cache = null;
  }
  if (values.json) {
    await io.stdout(
      jsonLine({
        config: config?.path ?? null,
        profile: selected.name ?? null,
        settings: shown,
        sources: from,
      }),
    );
    return EXIT.ok;
  }
  const text = (value: unknown) =>
    value === null ? "-" : Array.isArray(value) ? value.join(" ") || "-" : String(value);
  await io.stdout(
    `Config: ${config ? `${config.path}${config.found ? "" : " (does not exist)"}` : "-"}\n` +
      `Profile: ${selected.name === undefined ? "(none)" : oneLine(selected.name)}\n` +
      table(
        ["SETTING", "VALUE", "FROM"],
        Object.entries(shown).map(([key, value]) => [key, text(value), from[key] ?? ""]),
      ),
  );
  return EXIT.ok;
}

async function path(values: Values, io: GuardedIo): Promise<number> {
  const where = configPath(values, io.env);
  if (!where) {
    throw new UsageError(
      "Cannot find a config directory (HOME is not set); pass --config PATH or set DEVICEFLOW_CONFIG",
    );
  }
  await io.stdout(`${where.path}\n`);
  return EXIT.ok;
}

function warn(config: Config | undefined, io: GuardedIo): void {
  for (const warning of config?.warnings ?? []) io.stderr(`deviceflow: warning: ${warning}\n`);
}

function configFileHelp(): string {
  return defaultConfigPath() ?? "deviceflow/config.json in the user's config directory";
}

/** `deviceflow config`. */
export const command: Command = {
  summary: "Show the config file's profiles and the settings they give (secrets masked)",
  options: optionsFor("config"),
  get help() {
    return help();
  },
  positionals: true,
  run: config,
};
