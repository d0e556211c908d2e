/**
 * `deviceflow status`.
 *
 * @module
 */

import { optionsFor } from "../settings.ts";
import type { Values } from "../args.ts";
import { accountJson } from "../format.ts";
import { type Command, withCache } from "../context.ts";
import { commandHelp } from "../help.ts";
import { EXIT } from "../io.ts";
import { type GuardedIo, jsonLine, oneLine } from "../format.ts";

const OPTIONS = optionsFor("status");

// Built when asked for: a cached `token` never shows help.
const help = () =>
  commandHelp({
    usage: "deviceflow status [--json]",
    about:
      `Shows the cache's location, its accounts (the active one marked), their scopes and expiry
times, sign-ins started with 'login --no-wait' that are still pending, and any entry skipped as
corrupt. Never shows a token. Exits 3 when no account is cached.`,
    options: OPTIONS,
    examples: ["deviceflow status", "deviceflow status --json | jq '.accounts[].username'"],
  });

async function status(values: Values, io: GuardedIo): Promise<number> {
  return await withCache(values, io, async (cache) => {
    const state = await cache.status();
    const now = Date.now();
    const json = {
      cache: state.location,
      encrypted: cache.encrypted,
      readOnly: cache.readOnly,
      accounts: state.accounts.map((a) => ({
        ...accountJson(a),
        active: a.active,
        refreshToken: a.hasRefreshToken,
        accessTokens: a.accessTokens.map((t) => ({
          scopes: t.scopes,
          expiresAt: t.expiresAt === undefined ? null : new Date(t.expiresAt).toISOString(),
          expired: t.expiresAt !== undefined && t.expiresAt <= now,
        })),
      })),
      skipped: state.skipped,
      // Sign-ins started with login --no-wait that wait for the person.
      pending: (await cache.listPending()).map(({ authority, clientId, pending }) => ({
        authority,
        clientId,
        userCode: pending.userCode,
        verificationUri: pending.verificationUri,
        expiresAt: new Date(pending.expiresAt).toISOString(),
        expired: pending.expiresAt <= now,
      })),
    };
    if (values.json) {
      await io.stdout(jsonLine(json));
    } else {
      const lines = [
        `Cache: ${state.location}${cache.encrypted ? " (encrypted)" : ""}${
          cache.readOnly ? " (read-only)" : ""
        }`,
      ];
      if (json.accounts.length === 0) lines.push("Not signed in.");
      for (const a of json.accounts) {
        lines.push(
          `Account ${oneLine(a.username)} (${oneLine(a.homeAccountId)})${
            a.active ? ", active" : ""
          }`,
        );
        lines.push(
          `  authority ${oneLine(a.authority)}, client ${oneLine(a.clientId)}${
            a.tenantId ? `, tenant ${oneLine(a.tenantId)}` : ""
          }`,
        );
        lines.push(`  refresh token: ${a.refreshToken ? "cached" : "none"}`);
        for (const t of a.accessTokens) {
          lines.push(
            `  access token for [${oneLine(t.scopes.join(" ")) || "(no scopes)"}]: ${
              t.expiresAt === null
                ? "no expiry given"
                : `${t.expired ? "expired" : "expires"} ${t.expiresAt}`
            }`,
          );
        }
      }
      for (const p of json.pending) {
        lines.push(
          `Pending sign-in at ${oneLine(p.authority)}, client ${
            oneLine(p.clientId)
          }: code ${p.userCode} at ${p.verificationUri}, ${
            p.expired ? "expired" : "expires"
          } ${p.expiresAt}${p.expired ? "" : " (finish with: deviceflow login --resume)"}`,
        );
      }
      for (const s of state.skipped) lines.push(`Skipped ${oneLine(s.key)}: ${s.reason}`);
      await io.stdout(lines.join("\n") + "\n");
    }
    return json.accounts.length ? EXIT.ok : EXIT.signInNeeded;
  });
}

/** `deviceflow status`. */
export const command: Command = {
  summary: "Show what is cached: accounts, scopes, expiry times (never a token)",
  options: OPTIONS,
  get help() {
    return help();
  },
  run: status,
};
