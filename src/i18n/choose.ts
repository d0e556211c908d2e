/**
 * Which language the sign-in speaks, without loading any translation: the
 * names of the languages, and the POSIX rule that picks one.
 *
 * @module
 */

/** The languages of the sign-in. */
export const LOCALES = ["en", "de", "zh", "fr", "ja", "es"] as const;
/** One of {@linkcode LOCALES}. */
export type Locale = typeof LOCALES[number];

/**
 * The language a locale name means: `de`, `de_AT.UTF-8`, `es-MX`,
 * `zh_CN`, `zh-Hans`, `ja_JP.eucJP@x`. `C` and `POSIX` are English;
 * traditional Chinese (`zh_TW`, `zh-Hant`, `zh_HK`) and anything unknown are
 * `undefined`.
 *
 * @param name A locale name, as `LANG` or `--lang` give it.
 * @returns The language, or `undefined`.
 */
export function parseLocale(name: string | undefined): Locale | undefined {
  if (!name) return undefined;
  const bare = name.trim().split(/[.@]/, 1)[0]!.replaceAll("_", "-").toLowerCase();
  if (bare === "c" || bare === "posix") return "en";
  const [language, ...rest] = bare.split("-");
  if (language === "zh" && rest.some((part) => ["tw", "hk", "mo", "hant"].includes(part))) {
    return undefined;
  }
  return (LOCALES as readonly string[]).includes(language!) ? language as Locale : undefined;
}

/**
 * The language of the sign-in: `--lang`, then `DEVICEFLOW_LANG`, then
 * `LC_ALL`, `LC_MESSAGES` and `LANG` (POSIX order: the first one set
 * decides). A name that is set but not one of ours means English, without
 * a warning.
 *
 * @param flag The `--lang` value, if given.
 * @param env The environment.
 * @returns The language.
 */
export function chooseLocale(
  flag: string | undefined,
  env: (name: string) => string | undefined,
): Locale {
  for (const value of [flag, ...["DEVICEFLOW_LANG", "LC_ALL", "LC_MESSAGES", "LANG"].map(env)]) {
    if (value) return parseLocale(value) ?? "en";
  }
  return "en";
}
