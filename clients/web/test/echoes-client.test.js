// The client's own logic against scripted answers (node --test; run by tests/infra/test_web_client.py):
// retries and Retry-After, the error objects, pages, If-Match edits, the upload sequence. The
// same module runs against the real API in the browser test (tests/e2e/test_frontend_browser.py);
// here are the answers the local stack cannot be made to give on demand (429, 503, S3's errors).
import assert from "node:assert/strict";
import { test } from "node:test";

import { CLIENT_ERRORS, EchoesApiError, EchoesClient, audioFormat } from "../echoes-client.js";

const BASE = "https://api.example.com/dev";

/** A fetch that answers from SCRIPT in order and records what it was asked. */
function scripted(...script) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url: String(url), method: init.method, headers: init.headers ?? {}, body: init.body });
    const next = script.shift();
    if (next === undefined) throw new Error(`unexpected request ${init.method} ${url}`);
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetch, calls };
}

function json(status, body, headers = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function apiError(status, error, headers = {}) {
  return json(status, { error, message: `${error}!`, details: { why: 1 }, timestamp: "t", request_id: "r-1" }, headers);
}

function client(fetch, options = {}) {
  const waits = [];
  const made = new EchoesClient({
    baseUrl: `${BASE}/`,
    getToken: async () => "access-token",
    fetch,
    sleep: async (seconds) => void waits.push(seconds),
    ...options,
  });
  return { client: made, waits };
}

const ECHO = { echo_id: "e1", emotion: "calm", tags: ["rain"], version: 1 };

test("requests carry the access token and JSON, to the base URL without a double slash", async () => {
  const { fetch, calls } = scripted(json(200, ECHO, { ETag: '"1"' }));
  const { echo, etag } = await client(fetch).client.getEcho("a/b");
  assert.deepEqual([echo, etag], [ECHO, '"1"']);
  assert.equal(calls[0].url, `${BASE}/api/v1/echoes/a%2Fb`);
  assert.equal(calls[0].headers.Authorization, "Bearer access-token");
});

test("an API error becomes an EchoesApiError with the body's fields and the status", async () => {
  const { fetch } = scripted(apiError(404, "resource_not_found"));
  const error = await client(fetch).client.getEcho("x").catch((e) => e);
  assert.ok(error instanceof EchoesApiError && error instanceof Error);
  assert.deepEqual(
    [error.status, error.error, error.message, error.details, error.request_id, error.attempts],
    [404, "resource_not_found", "resource_not_found!", { why: 1 }, "r-1", 1],
  );
});

test("429 and 503 are repeated after Retry-After; other errors are not", async () => {
  const { fetch, calls } = scripted(
    apiError(429, "rate_limit_exceeded", { "Retry-After": "1" }),
    apiError(503, "service_unavailable", { "Retry-After": "5" }),
    json(200, { echoes: [], next_cursor: null }),
  );
  const { client: made, waits } = client(fetch);
  await made.listEchoes();
  assert.equal(calls.length, 3);
  assert.deepEqual(waits, [1, 5]);

  const refused = scripted(apiError(409, "conflict"));
  await assert.rejects(client(refused.fetch).client.listEchoes(), { error: "conflict" });
  assert.equal(refused.calls.length, 1);
});

test("without Retry-After the wait grows; after the last retry the error is thrown", async () => {
  const { fetch, calls } = scripted(...Array.from({ length: 4 }, () => apiError(503, "service_unavailable")));
  const { client: made, waits } = client(fetch);
  const error = await made.stats().catch((e) => e);
  assert.equal(error.error, "service_unavailable");
  assert.equal(error.attempts, 4);
  assert.equal(calls.length, 4);
  assert.ok(waits[0] < waits[1] && waits[1] < waits[2], `backoff grows: ${waits}`);
});

test("a Retry-After longer than the client waits is the caller's: thrown with retryAfter", async () => {
  const { fetch, calls } = scripted(apiError(429, "rate_limit_exceeded", { "Retry-After": "120" }));
  const error = await client(fetch).client.initUpload({ file_extension: "wav", content_type: "audio/wav" }).catch((e) => e);
  assert.deepEqual([error.error, error.retryAfter, calls.length], ["rate_limit_exceeded", 120, 1]);
});

test("an answer that is not the API's error body, and no answer at all, are typed too", async () => {
  const html = new Response("<html>bad gateway</html>", { status: 502 });
  const error = await client(scripted(html).fetch).client.stats().catch((e) => e);
  assert.deepEqual([error.status, error.error], [502, CLIENT_ERRORS.UNEXPECTED]);
  assert.match(error.details.body, /bad gateway/);

  const offline = await client(scripted(new TypeError("Failed to fetch")).fetch).client.stats().catch((e) => e);
  assert.deepEqual([offline.status, offline.error], [0, CLIENT_ERRORS.NETWORK]);
});

test("the upload sequence: init-upload, PUT with exactly upload_headers, create", async () => {
  const headers = { "Content-Type": "audio/webm;codecs=opus" };
  const { fetch, calls } = scripted(
    json(200, { echo_id: "e1", upload_url: "https://s3.example.com/put?sig", upload_headers: headers, s3_key: "k", expires_in: 900 }),
    new Response(null, { status: 200 }),
    json(201, ECHO),
  );
  const audio = new Blob([new Uint8Array(7)], { type: "audio/webm;codecs=opus" });
  const echo = await client(fetch).client.uploadEcho(audio, { emotion: "calm", tags: ["rain"] });
  assert.deepEqual(echo, ECHO);
  assert.deepEqual(JSON.parse(calls[0].body), { file_extension: "webm", content_type: "audio/webm;codecs=opus", file_size: 7 });
  assert.deepEqual([calls[1].method, calls[1].url, calls[1].headers, calls[1].body], ["PUT", "https://s3.example.com/put?sig", headers, audio]);
  assert.equal(calls[1].headers.Authorization, undefined, "the token never goes to S3");
  assert.equal(calls[2].url, `${BASE}/api/v1/echoes?echo_id=e1`);
  assert.deepEqual(JSON.parse(calls[2].body), { emotion: "calm", tags: ["rain"], file_extension: "webm" });
});

test("create is repeated on 503 and on a lost answer (it is idempotent)", async () => {
  const { fetch, calls } = scripted(apiError(503, "service_unavailable"), new TypeError("network"), json(201, ECHO));
  assert.deepEqual(await client(fetch).client.createEcho("e1", { emotion: "calm", file_extension: "wav" }), ECHO);
  assert.equal(calls.length, 3);
});

test("S3's refusal is an upload_failed error naming S3's code", async () => {
  const xml = "<Error><Code>SignatureDoesNotMatch</Code><Message>The signature…</Message></Error>";
  const { fetch } = scripted(new Response(xml, { status: 403 }));
  const upload = { echo_id: "e", upload_url: "https://s3/x", upload_headers: {}, s3_key: "k", expires_in: 1 };
  const error = await client(fetch).client.putAudio(upload, new Blob(["x"])).catch((e) => e);
  assert.deepEqual([error.status, error.error, error.details.s3_error], [403, CLIENT_ERRORS.UPLOAD, "SignatureDoesNotMatch"]);
});

test("a PUT repeated after S3's 503 that finds its first attempt landed (412) is done", async () => {
  const { fetch, calls } = scripted(new Response("<Error><Code>SlowDown</Code></Error>", { status: 503 }), new Response("", { status: 412 }));
  const upload = { echo_id: "e", upload_url: "https://s3/x", upload_headers: {}, s3_key: "k", expires_in: 1 };
  await client(fetch).client.putAudio(upload, new Blob(["x"]));
  assert.equal(calls.length, 2);
});

test("pages follows next_cursor until it is null", async () => {
  const { fetch, calls } = scripted(
    json(200, { echoes: [ECHO], next_cursor: "c2" }),
    json(200, { echoes: [ECHO], next_cursor: null }),
  );
  const pages = [];
  for await (const page of client(fetch).client.pages({ emotion: "calm", page_size: 1 })) pages.push(page);
  assert.equal(pages.length, 2);
  assert.equal(new URL(calls[0].url).search, "?emotion=calm&page_size=1");
  assert.equal(new URL(calls[1].url).searchParams.get("cursor"), "c2");
});

test("editEcho sends If-Match and, refused with 412, re-reads and re-applies", async () => {
  const { fetch, calls } = scripted(
    json(200, ECHO, { ETag: '"1"' }),
    apiError(412, "precondition_failed"),
    json(200, { ...ECHO, tags: ["rain", "wind"], version: 2 }, { ETag: '"2"' }),
    json(200, { ...ECHO, tags: ["rain", "wind", "night"], version: 3 }, { ETag: '"3"' }),
  );
  const { echo, etag } = await client(fetch).client.editEcho("e1", (current) => ({ tags: [...current.tags, "night"] }));
  assert.deepEqual([echo.version, etag], [3, '"3"']);
  assert.deepEqual(calls.map((call) => [call.method, call.headers["If-Match"]]), [
    ["GET", undefined], ["PATCH", '"1"'], ["GET", undefined], ["PATCH", '"2"'],
  ]);
  assert.deepEqual(JSON.parse(calls[3].body), { tags: ["rain", "wind", "night"] });
});

test("randomEcho is null when the caller has no such echo", async () => {
  const { fetch } = scripted(apiError(404, "resource_not_found"));
  assert.equal(await client(fetch).client.randomEcho({ emotion: "fear" }), null);
});

test("deleteEcho: a 404 on a repeat after 503 is success; a 404 at once is not", async () => {
  const repeated = scripted(apiError(503, "service_unavailable"), apiError(404, "resource_not_found"));
  await client(repeated.fetch).client.deleteEcho("e1");
  const missing = scripted(apiError(404, "resource_not_found"));
  await assert.rejects(client(missing.fetch).client.deleteEcho("e1"), { error: "resource_not_found" });
});

test("eraseAccount repeats DELETE /me while it answers 202", async () => {
  const progress = { status: "erasing", phase: "audio", audio_versions_deleted: 5, items_deleted: 0, continuing: false, message: "m" };
  const { fetch, calls } = scripted(json(202, progress), new Response(null, { status: 204 }));
  const seen = [];
  await client(fetch).client.eraseAccount({ onProgress: (p) => seen.push(p) });
  assert.deepEqual(seen, [progress]);
  assert.deepEqual(calls.map((call) => call.method), ["DELETE", "DELETE"]);
});

test("audioFormat maps recorder types and file names to what init-upload takes", () => {
  assert.deepEqual(audioFormat(new Blob([], { type: "audio/webm;codecs=opus" })), { file_extension: "webm", content_type: "audio/webm;codecs=opus" });
  assert.deepEqual(audioFormat(new File([], "a.MP3")), { file_extension: "mp3", content_type: "audio/mpeg" });
  assert.throws(() => audioFormat(new Blob([], { type: "video/mp4" })), { error: "unsupported_media_type" });
});
