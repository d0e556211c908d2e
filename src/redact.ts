/**
 * Keeps secrets out of messages. Every token, device code and client secret
 * the library handles is registered here, and every error message passes
 * through {@linkcode redact}, so a server that echoes a token back in an
 * error description cannot make us print it.
 *
 * @module
 */

const secrets = new Set<string>();
// A JWT (three base64url parts, the first an encoded JSON object) is always a
// credential in this domain, registered or not.
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
// Shorter strings are too likely to be ordinary words to be replaced blindly.
const MIN_SECRET_LENGTH = 8;

/**
 * Remembers a secret so that {@linkcode redact} removes it from text.
 *
 * @param value A token, device code or client secret; short or empty values are ignored.
 */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= MIN_SECRET_LENGTH) secrets.add(value);
}

/**
 * Replaces every registered secret and every JWT in a text with `[redacted]`.
 *
 * @param text Any text that may reach a person or a log.
 * @returns The text without secrets.
 */
export function redact(text: string): string {
  let out = text.replace(JWT, "[redacted]");
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.replaceAll(secret, "[redacted]");
  }
  return out;
}
