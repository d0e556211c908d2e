import assert from "node:assert/strict";
import {
  discoveryDocument,
  type FakeServer,
  json,
  startFakeServer,
} from "./support/fake_server.ts";

/** Runs `fn` against a fresh server and always closes it, so sanitizers see no leaks. */
async function withServer(fn: (server: FakeServer) => Promise<void>): Promise<void> {
  const server = await startFakeServer();
  try {
    await fn(server);
  } finally {
    await closeWithin(server, 1000);
  }
}

/** Closes `server`, failing rather than hanging the run if that takes over `ms`. */
async function closeWithin(server: FakeServer, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => timer = setTimeout(resolve, ms, "timeout"));
  const outcome = await Promise.race([server.close(), timeout]);
  clearTimeout(timer);
  assert.notEqual(outcome, "timeout", `server.close() took over ${ms} ms`);
}

Deno.test("fake server answers a routed request with JSON, status and headers", async () => {
  await withServer(async (server) => {
    server.route("GET", "/thing", json(201, { hello: "world" }, { "x-quirk": "yes" }));
    const res = await fetch(`${server.url}/thing?a=1`, { headers: { "x-client": "test" } });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("x-quirk"), "yes");
    assert.deepEqual(await res.json(), { hello: "world" });

    assert.equal(server.requests.length, 1);
    const [req] = server.requests;
    assert.equal(req?.method, "GET");
    assert.equal(req?.path, "/thing?a=1");
    assert.equal(req?.headers.get("x-client"), "test");
    assert.equal(req?.body, "");
    assert.deepEqual(server.requestsTo("/thing"), server.requests);
  });
});

Deno.test("fake server sends text and byte bodies, and headers override defaults", async () => {
  await withServer(async (server) => {
    server.route("GET", "/text", { body: "plain" });
    server.route("GET", "/bytes", {
      status: 202,
      body: new Uint8Array([1, 2, 3]),
      headers: { "Content-Type": "application/x-custom" },
    });
    const text = await fetch(`${server.url}/text`);
    assert.equal(text.status, 200);
    assert.equal(text.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(await text.text(), "plain");
    const bytes = await fetch(`${server.url}/bytes`);
    assert.equal(bytes.status, 202);
    assert.equal(bytes.headers.get("content-type"), "application/x-custom");
    assert.deepEqual(new Uint8Array(await bytes.arrayBuffer()), new Uint8Array([1, 2, 3]));
  });
});

Deno.test("fake server steps through a script array and repeats its last reply", async () => {
  await withServer(async (server) => {
    server.route("POST", "/token", [
      json(400, { error: "authorization_pending" }),
      json(400, { error: "slow_down" }),
      json(200, { access_token: "at" }),
    ]);
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.url}/token`, { method: "POST" });
      const body = await res.json();
      seen.push(`${res.status} ${body.error ?? body.access_token}`);
    }
    assert.deepEqual(seen, [
      "400 authorization_pending",
      "400 slow_down",
      "200 at",
      "200 at",
      "200 at",
    ]);
  });
});

Deno.test("fake server routing again replaces the route and restarts its script", async () => {
  await withServer(async (server) => {
    server.route("GET", "/x", [json(200, 1), json(200, 2)]);
    assert.equal(await (await fetch(`${server.url}/x`)).json(), 1);
    server.route("GET", "/x", [json(200, 3), json(200, 4)]);
    assert.equal(await (await fetch(`${server.url}/x`)).json(), 3);
    assert.equal(await (await fetch(`${server.url}/x`)).json(), 4);
  });
});

Deno.test("fake server calls handler functions with the request and the server", async () => {
  await withServer(async (server) => {
    server.route("POST", "/count", async (req, srv) => {
      await Promise.resolve();
      return json(200, { n: srv.requestsTo("/count").length, echo: req.form.get("v") });
    });
    server.route("GET", "/boom", () => {
      throw new Error("handler broke");
    });
    const post = (v: string) =>
      fetch(`${server.url}/count`, { method: "POST", body: new URLSearchParams({ v }) });
    assert.deepEqual(await (await post("a")).json(), { n: 1, echo: "a" });
    assert.deepEqual(await (await post("b")).json(), { n: 2, echo: "b" });

    const boom = await fetch(`${server.url}/boom`);
    assert.equal(boom.status, 500);
    assert.deepEqual(await boom.json(), {
      error: "fake_server_handler_error",
      error_description: "handler broke",
    });
  });
});

Deno.test("fake server answers unrouted requests with 404 and matches routes on pathname only", async () => {
  await withServer(async (server) => {
    server.route("GET", "/known", json(200, { ok: true }));
    const missing = await fetch(`${server.url}/unknown`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: "not_found" });
    const wrongMethod = await fetch(`${server.url}/known`, { method: "DELETE" });
    assert.equal(wrongMethod.status, 404);
    await wrongMethod.body?.cancel();
    const withQuery = await fetch(`${server.url}/known?x=1`);
    assert.equal(withQuery.status, 200);
    await withQuery.body?.cancel();
    assert.deepEqual(server.requests.map((r) => r.path), ["/unknown", "/known", "/known?x=1"]);
  });
});

Deno.test("fake server fault close makes fetch reject with TypeError", async () => {
  await withServer(async (server) => {
    server.route("POST", "/token", [{ fault: "close" }, json(200, { ok: true })]);
    await assert.rejects(fetch(`${server.url}/token`, { method: "POST" }), TypeError);
    assert.equal(server.requestsTo("/token").length, 1);
    // The server keeps serving other connections after dropping one.
    const res = await fetch(`${server.url}/token`, { method: "POST" });
    assert.deepEqual(await res.json(), { ok: true });
  });
});

Deno.test("fake server fault reset-mid-body sends half the body, then reading it fails", async () => {
  await withServer(async (server) => {
    const body = JSON.stringify({ access_token: "a".repeat(64), token_type: "Bearer" });
    server.route("POST", "/token", { fault: "reset-mid-body", status: 200, body });
    const res = await fetch(`${server.url}/token`, { method: "POST" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-length"), String(body.length));

    const reader = res.body!.getReader();
    let received = "";
    const decoder = new TextDecoder();
    await assert.rejects(async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        received += decoder.decode(value, { stream: true });
      }
    });
    assert.equal(received, body.slice(0, Math.floor(body.length / 2)));
  });
});

Deno.test("fake server fault hang never answers, so a client timeout fires", async () => {
  await withServer(async (server) => {
    server.route("POST", "/token", { fault: "hang" });
    const start = performance.now();
    await assert.rejects(
      fetch(`${server.url}/token`, { method: "POST", signal: AbortSignal.timeout(300) }),
      (error: unknown) => error instanceof DOMException && error.name === "TimeoutError",
    );
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= 290 && elapsed < 1500, `timed out after ${elapsed} ms`);
    assert.equal(server.requestsTo("/token").length, 1);
  });
});

Deno.test("fake server close() cuts hanging, delayed, trickling and stuck replies short", async () => {
  const server = await startFakeServer();
  server.route("GET", "/hang", { fault: "hang" });
  server.route("GET", "/late", { delayMs: 10_000, reply: json(200, {}) });
  server.route("GET", "/trickle", { fault: "slow-body", body: "xy", chunkDelayMs: 10_000 });
  server.route("GET", "/stuck", () => new Promise(() => {}));
  const pending = ["/hang", "/late", "/stuck"].map((path) => fetch(`${server.url}${path}`));
  const trickle = await fetch(`${server.url}/trickle`);
  while (server.requests.length < 4) await new Promise((r) => setTimeout(r, 10));
  // None of these clients ever gives up, so close() must not wait for them.
  await closeWithin(server, 500);
  for (const res of pending) await assert.rejects(res, TypeError);
  await assert.rejects(trickle.text());
  await server.close(); // idempotent
});

Deno.test("fake server fault slow-body sends the head at once and trickles the body", async () => {
  await withServer(async (server) => {
    // 10 bytes in 2-byte chunks = 5 chunks, 60 ms apart: about 300 ms.
    server.route("GET", "/slow", {
      fault: "slow-body",
      body: "0123456789",
      chunkSize: 2,
      chunkDelayMs: 60,
    });
    server.route("GET", "/slow-json", { fault: "slow-body", json: { a: 1 }, chunkDelayMs: 5 });
    const start = performance.now();
    const res = await fetch(`${server.url}/slow`);
    const headAt = performance.now() - start;
    assert.ok(headAt < 150, `head took ${headAt} ms`);
    assert.equal(await res.text(), "0123456789");
    const total = performance.now() - start;
    assert.ok(total >= 290 && total < 1000, `body took ${total} ms`);

    const slowJson = await fetch(`${server.url}/slow-json`);
    assert.equal(slowJson.headers.get("content-type"), "application/json");
    assert.deepEqual(await slowJson.json(), { a: 1 });
  });
});

Deno.test("fake server delayMs waits before replying", async () => {
  await withServer(async (server) => {
    server.route("GET", "/late", { delayMs: 200, reply: json(200, { late: true }) });
    server.route("GET", "/late-close", { delayMs: 100, reply: { fault: "close" } });
    const start = performance.now();
    const res = await fetch(`${server.url}/late`);
    const elapsed = performance.now() - start;
    assert.deepEqual(await res.json(), { late: true });
    assert.ok(elapsed >= 190 && elapsed < 1000, `reply took ${elapsed} ms`);
    await assert.rejects(fetch(`${server.url}/late-close`), TypeError);
  });
});

Deno.test("fake server keeps connections alive across 20 sequential form posts", async () => {
  await withServer(async (server) => {
    server.route("POST", "/token", (req) => json(200, { got: req.form.get("device_code") }));
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${server.url}/token`, {
        method: "POST",
        body: new URLSearchParams({ device_code: `dc-${i}`, client_id: "cli" }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { got: `dc-${i}` });
    }
    const requests = server.requestsTo("/token");
    assert.equal(requests.length, 20);
    requests.forEach((req, i) => {
      assert.equal(req.form.get("device_code"), `dc-${i}`);
      assert.equal(req.form.get("client_id"), "cli");
      assert.equal(req.body, `device_code=dc-${i}&client_id=cli`);
      if (i > 0) assert.ok(req.time >= requests[i - 1]!.time);
    });
    const connections = new Set(requests.map((req) => req.connectionId));
    assert.ok(connections.size < 20, `fetch opened ${connections.size} connections`);
  });
});

Deno.test("fake server parses several pipelined requests from one connection", async () => {
  await withServer(async (server) => {
    server.route("POST", "/a", (req) => json(200, { body: req.body }));
    server.route("GET", "/b", json(200, { b: true }));
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: Number(new URL(server.url).port),
    });
    try {
      await conn.write(new TextEncoder().encode(
        "POST /a HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" +
          "Content-Length: 7\r\n\r\nk=v&x=y" +
          "GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
      ));
      let text = "";
      const buffer = new Uint8Array(4096);
      while (!text.includes('{"b":true}')) {
        const n = await conn.read(buffer);
        if (n === null) break;
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
      assert.equal(text.match(/HTTP\/1\.1 200 OK/g)?.length, 2, text);
      assert.ok(text.includes('{"body":"k=v&x=y"}'), text);
    } finally {
      conn.close();
    }
    assert.deepEqual(server.requests.map((r) => [r.method, r.path, r.connectionId]), [
      ["POST", "/a", 1],
      ["GET", "/b", 1],
    ]);
    assert.equal(server.requests[0]?.form.get("x"), "y");
  });
});

Deno.test("discoveryDocument() points at the fake endpoints and merges overrides", () => {
  const doc = discoveryDocument("http://127.0.0.1:1234/", {
    token_endpoint: "http://elsewhere/token",
    revocation_endpoint: undefined,
    extra: 1,
  });
  assert.equal(doc.issuer, "http://127.0.0.1:1234");
  assert.equal(doc.device_authorization_endpoint, "http://127.0.0.1:1234/device");
  assert.equal(doc.userinfo_endpoint, "http://127.0.0.1:1234/userinfo");
  assert.equal(doc.token_endpoint, "http://elsewhere/token");
  assert.equal(doc.extra, 1);
  assert.ok(!("revocation_endpoint" in doc));
  assert.deepEqual(json(400, { error: "x" }), { status: 400, json: { error: "x" } });
});
