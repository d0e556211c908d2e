/**
 * `deno task approve CODE`: approves a device code on the running dev
 * server, as a person at a browser would. The helper lives in
 * `tests/support/approve.ts`, where the tests use it too.
 *
 * @module
 */

import { main } from "../tests/support/approve.ts";

Deno.exit(await main(Deno.args));
