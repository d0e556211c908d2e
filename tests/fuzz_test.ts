/**
 * Generated server bodies, ID tokens and cache entries end in a valid result
 * or a typed error, never an uncaught exception (`scripts/fuzz.ts`). The seed
 * is random unless FUZZ_SEED is set, and printed: a failure names the input to
 * replay with `deno task fuzz --seed S --from I --count 1`.
 */

import assert from "node:assert/strict";
import { describeReport, fuzz } from "../scripts/fuzz.ts";

/** Sized to keep CI quick; `deno task fuzz` runs 200,000 or more. */
const BODIES = 10_000;

Deno.test("10,000 generated server bodies, 5,000 ID tokens and 1,000 cache entries end in a valid result or a DeviceFlowError", async () => {
  const fixed = Deno.env.get("FUZZ_SEED");
  const seed = fixed === undefined ? (Math.random() * 2 ** 32) >>> 0 : Number(fixed);
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
