/**
 * The version of deviceflow; a test keeps it equal to the one in deno.json.
 *
 * @example Name the library in a User-Agent
 * ```ts
 * import assert from "node:assert/strict";
 * import { VERSION } from "@deviceflow/deviceflow";
 *
 * const userAgent = `my-tool/1.0 deviceflow/${VERSION}`;
 * assert.match(userAgent, /deviceflow\/\d+\.\d+\.\d+$/);
 * ```
 */
export const VERSION = "0.1.0";
