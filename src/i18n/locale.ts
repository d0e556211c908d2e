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
import { type Locale, parseLocale } from "./choose.ts";

export { chooseLocale, type Locale, LOCALES, parseLocale } from "./choose.ts";

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
