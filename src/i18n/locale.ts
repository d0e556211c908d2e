/**
 * The language of the sign-in: which one the user asked for, the messages
 * of each, and the tags servers are sent. English, German, Simplified
 * Chinese, French, Japanese and Spanish; anything else is English.
 *
 * @module
 */

import { de } from "./de.ts";
import { en, type MessageKey, type Messages } from "./en.ts";
import { es } from "./es.ts";
import { fr } from "./fr.ts";
import { ja } from "./ja.ts";
import { zh } from "./zh.ts";

export type { MessageKey, Messages } from "./en.ts";

/** The languages of the sign-in. */
export const LOCALES = ["en", "de", "zh", "fr", "ja", "es"] as const;
/** One of {@linkcode LOCALES}. */
export type Locale = typeof LOCALES[number];

/** Every language's messages, by locale. */
export const MESSAGES: Readonly<Record<Locale, Messages>> = { en, de, zh, fr, ja, es };

/** The tag each language is asked for in, where a server wants a region (Entra's `mkt`). */
const REGIONS: Readonly<Record<Locale, string>> = {
  en: "en-US",
  de: "de-DE",
  zh: "zh-CN",
  fr: "fr-FR",
  ja: "ja-JP",
  es: "es-ES",
};

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

/**
 * One message with its placeholders filled in.
 *
 * @param locale The language.
 * @param key Which message.
 * @param values The placeholders' values.
 * @returns The text.
 */
export function say(
  locale: Locale,
  key: MessageKey,
  values: Readonly<Record<string, string | number>> = {},
): string {
  return MESSAGES[locale][key].replace(
    /\{(\w+)\}/g,
    (whole, name: string) => Object.hasOwn(values, name) ? String(values[name]) : whole,
  );
}

/**
 * The placeholders a message uses, sorted: the same for every language.
 *
 * @param text A message.
 * @returns Its placeholders' names.
 */
export function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
}

/**
 * The tag to send in OpenID Connect's `ui_locales`: one the server lists in
 * `ui_locales_supported` for this language (the same region first), or
 * `undefined` when it lists none.
 *
 * @param locale The language.
 * @param supported What discovery said.
 * @returns The tag, or `undefined`.
 */
export function uiLocaleFor(
  locale: Locale,
  supported: readonly string[] | undefined,
): string | undefined {
  if (!supported) return undefined;
  const exact = supported.find((tag) => tag.toLowerCase() === REGIONS[locale].toLowerCase());
  return exact ?? supported.find((tag) => parseLocale(tag) === locale);
}

/**
 * The tag Entra's `mkt` parameter takes for a language (`de-DE`).
 *
 * @param locale The language.
 * @returns The tag.
 */
export function marketFor(locale: Locale): string {
  return REGIONS[locale];
}
