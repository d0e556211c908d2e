/**
 * Generated server bodies, ID tokens and cache entries end in a valid result
 * or a typed error, never an uncaught exception (`scripts/fuzz.ts`). CI runs a
 * fixed seed, so that its result does not change from run to run, and then
 * every input of the regression corpus (`tests/fuzz_corpus.json`): each
 * finding of a long random run (`deno task fuzz`) is added there as the seed
 * and index that replay it. FUZZ_SEED runs another seed.
 */

import assert from "node:assert/strict";
import { describeReport, fuzz } from "./support/fuzz.ts";
import type { HttpResult } from "../src/http.ts";
import { redact } from "../src/redact.ts";
import {
  parseDeviceAuthorization,
  parseErrorBody,
  parseTokenResponse,
} from "../src/protocol/responses.ts";

/** Sized to keep CI quick; `deno task fuzz` runs 200,000 or more. */
const BODIES = 10_000;
/** The seed CI runs: fixed, so that a run's result is the same tomorrow. */
const CI_SEED = 20_261_204;

/**
 * The regression corpus: every finding of a long random run (or a review),
 * as the input that broke, run against what it broke. It grows with every
 * finding; CI runs all of it.
 */
const FINDINGS: { what: string; check: () => void | Promise<void> }[] = [
  {
    what: "redaction took quadratic time on 90 KB of eyJeyJ... (8 s)",
    check: () => {
      const started = performance.now();
      redact("eyJ".repeat(30_000));
      assert.ok(performance.now() - started < 500, "linear time");
    },
  },
  {
    what: "a 300 KB error_description made a 300 KB message",
    check: () => {
      const details = parseErrorBody(
        result({ error: "invalid_request", error_description: "x".repeat(300_000) }),
      );
      assert.ok(details!.errorDescription!.length <= 2048);
    },
  },
  {
    what: "an error code of control characters made an empty error code",
    check: () => assert.equal(parseErrorBody(result({ error: "\u0001\u0002\u0003" })), undefined),
  },
  {
    what: "a server message with line breaks forged a line of the prompt",
    check: () => {
      const parsed = parseDeviceAuthorization(result({
        device_code: "d-0123456789",
        user_code: "ABCD-EFGH",
        verification_uri: "https://id.example.com/device",
        expires_in: 600,
        message: "Sign in\r\n  Address: https://evil.example/",
      }));
      assert.doesNotMatch(parsed.message!, /\n/);
    },
  },
  {
    what: "an access token with CRLF could add a header to -o header",
    check: () =>
      assert.throws(
        () =>
          parseTokenResponse(
            result({ access_token: "at-1\r\nX-Injected: 1", token_type: "Bearer" }),
          ),
        /"access_token" must be/,
      ),
  },
  {
    what: "an expires_in of 1e15 lost an approved sign-in",
    check: () => {
      const parsed = parseTokenResponse(
        result({ access_token: "at-0123456789", expires_in: 1e15 }),
      );
      assert.equal(parsed.expiresIn, 365 * 24 * 3600);
    },
  },
];

/** A server's 200 answer with a JSON body, as the HTTP layer hands it on. */
function result(body: unknown): HttpResult {
  const text = JSON.stringify(body);
  return {
    url: "https://id.example.com/token",
    status: 200,
    headers: new Headers({ "content-type": "application/json" }),
    body,
    snippet: text.slice(0, 200),
  };
}

for (const finding of FINDINGS) {
  Deno.test(`fuzz regression: ${finding.what}`, () => finding.check());
}

Deno.test("10,000 generated server bodies, 5,000 ID tokens and 1,000 cache entries end in a valid result or a DeviceFlowError", async () => {
  const fixed = Deno.env.get("FUZZ_SEED");
  const seed = fixed === undefined ? CI_SEED : Number(fixed);
  console.log(`fuzz seed ${seed} (replay: deno task fuzz --seed ${seed} --count ${BODIES})`);
  const report = await fuzz({ count: BODIES, seed, idTokens: 5_000, cacheEntries: 1_000 });
  const text = describeReport(report);
  console.log(text.split("\n").filter((line) => !line.startsWith("  ")).join("\n"));
  assert.equal(report.failureCount, 0, text);
  // Every body went through the HTTP-reading path and then every parser.
  assert.equal(report.targets.http?.inputs, BODIES);
  for (const parser of ["parseErrorBody", "parseDeviceAuthorization", "parseTokenResponse"]) {
    assert.ok((report.targets[parser]?.inputs ?? 0) > BODIES * 0.8, parser);
  }
  assert.ok(report.inputs >= 55_000, `only ${report.inputs} inputs`);
});
