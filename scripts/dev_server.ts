/**
 * `deno task dev-server`: a local authorization server for trying the CLI
 * (node-oidc-provider with the device flow). The server lives in
 * `tests/support/dev_server.ts`, where the tests use it too.
 *
 * @module
 */

import { main } from "../tests/support/dev_server.ts";

Deno.exit(await main(Deno.args));
