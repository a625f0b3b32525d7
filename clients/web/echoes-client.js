// @ts-check
/**
 * The Echoes API's web client: one ES module without dependencies, for browsers (and Node 18+).
 *
 * Every route of the API; the upload sequence (init-upload, PUT to S3 with the headers the API
 * lists, create); pages followed by `next_cursor`; edits with ETag and If-Match; every failure as
 * an EchoesApiError carrying the API's `error`, `message` and `details`; Retry-After honoured on
 * 429 and 503. Its types come from ./api-types.d.ts, generated from the API's OpenAPI document.
 * How to use it: docs/frontend.md.
 *
 *   const client = new EchoesClient({ baseUrl: "https://…/dev", getToken: () => auth.accessToken() });
 *   const echo = await client.uploadEcho(blob, { emotion: "calm", tags: ["rain"] });
 */

/** @typedef {import("./api-types").components["schemas"]} Schemas */
/** @typedef {Schemas["Echo"]} Echo */
/** @typedef {Schemas["EchoPage"]} EchoPage */
/** @typedef {Schemas["EchoStats"]} EchoStats */
/** @typedef {Schemas["Emotion"]} Emotion */
/** @typedef {Schemas["InitUploadRequest"]} InitUploadRequest */
/** @typedef {Schemas["InitUploadResponse"]} InitUploadResponse */
/** @typedef {Schemas["CreateEchoRequest"]} CreateEchoRequest */
/** @typedef {Schemas["UpdateEchoRequest"]} UpdateEchoRequest */
/** @typedef {Schemas["ErasureProgress"]} ErasureProgress */
/** @typedef {Schemas["ExportPage"]} ExportPage */
/** @typedef {Schemas["ErrorBody"]} ErrorBody */
/** @typedef {Schemas["Health"]} Health */
/** @typedef {Schemas["RootInfo"]} RootInfo */
/** @typedef {NonNullable<import("./api-types").paths["/api/v1/echoes"]["get"]["parameters"]["query"]>} ListQuery */
/** Create's body without file_extension: uploadEcho derives it from the audio's type.
 * @typedef {Omit<CreateEchoRequest, "file_extension"> & { file_extension?: string }} EchoMetadata */
/** An echo with the ETag its read or edit answered: send it back as If-Match.
 * @typedef {{ echo: Echo, etag: string | null }} TaggedEcho */

/**
 * @typedef {object} ClientOptions
 * @property {string} baseUrl The API's base URL, stage included (".../dev"); no trailing slash needed.
 * @property {() => (string | null | undefined | Promise<string | null | undefined>)} [getToken]
 *   The Cognito **access** token (not the ID token), asked for before every request, so that a
 *   refreshed session is used as soon as there is one. What it throws reaches the caller as it is.
 * @property {typeof fetch} [fetch] Defaults to the global fetch.
 * @property {number} [retries] How many times a request refused with 429 or 503 is repeated (3).
 * @property {number} [maxRetryAfterSeconds] A longer Retry-After is not waited for: the error is
 *   thrown with its retryAfter, for the caller to decide (30).
 * @property {(seconds: number) => Promise<void>} [sleep] How to wait (tests replace it).
 */

/** The audio formats the API accepts: extension -> the content types it takes for it. */
export const AUDIO_FORMATS = Object.freeze({
  webm: ["audio/webm"],
  wav: ["audio/wav", "audio/x-wav", "audio/wave"],
  mp3: ["audio/mpeg", "audio/mp3"],
  m4a: ["audio/mp4", "audio/x-m4a"],
  ogg: ["audio/ogg"],
});

/** Errors the client reports itself, in `error` like the API's own codes. */
export const CLIENT_ERRORS = Object.freeze({
  NETWORK: "network_error", // no answer could be read: offline, DNS, or refused by CORS
  UPLOAD: "upload_failed", // S3 refused the PUT (its XML error is in details)
  UNEXPECTED: "unexpected_response", // an answer that is not the API's JSON
  FORMAT: "unsupported_media_type", // the audio's type is none the API accepts
});

const RETRIED_STATUSES = new Set([429, 503]);
const ERASE_PAUSE_SECONDS = 1;

/** Every failure: an error answer of the API (its `error`, `message`, `details`, `request_id`),
 * or one the client names itself (CLIENT_ERRORS, status 0 when nothing was answered). */
export class EchoesApiError extends Error {
  /**
   * @param {number} status HTTP status; 0 when there was no readable answer.
   * @param {Partial<ErrorBody> & { error: string, message: string }} body
   * @param {number | null} [retryAfter] Seconds from the Retry-After header, when there was one.
   */
  constructor(status, body, retryAfter = null) {
    super(body.message);
    this.name = "EchoesApiError";
    this.status = status;
    /** The error code: `validation_error`, `resource_not_found`, ... (README's list), or a CLIENT_ERRORS value. */
    this.error = body.error;
    /** @type {unknown} */
    this.details = body.details ?? null;
    this.request_id = body.request_id ?? null;
    this.timestamp = body.timestamp ?? null;
    this.retryAfter = retryAfter;
    /** How many times the request was sent (more than 1: it was repeated after a 429 or 503). */
    this.attempts = 1;
  }
}

/** @param {Response} response @returns {number | null} seconds */
function retryAfterOf(response) {
  const value = response.headers.get("Retry-After");
  if (value === null) return null;
  if (/^\d+$/.test(value.trim())) return Number(value);
  const date = Date.parse(value); // the header may also be an HTTP date
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}

/** @param {Response} response @returns {Promise<EchoesApiError>} */
async function errorOf(response) {
  const text = await response.text();
  const retryAfter = retryAfterOf(response);
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "string" && typeof body.message === "string") {
      return new EchoesApiError(response.status, body, retryAfter);
    }
  } catch {
    // not JSON: reported below
  }
  return new EchoesApiError(
    response.status,
    {
      error: CLIENT_ERRORS.UNEXPECTED,
      message: `HTTP ${response.status} without the API's error body`,
      details: { body: text.slice(0, 500) },
    },
    retryAfter,
  );
}

/** @param {unknown} cause @returns {EchoesApiError} */
function networkError(cause) {
  return new EchoesApiError(0, {
    error: CLIENT_ERRORS.NETWORK,
    message:
      "No answer could be read (offline, unreachable, or refused by CORS: is this page's origin allowed?)",
    details: { cause: String(cause) },
  });
}

/** S3's error answers are XML: <Error><Code>…</Code><Message>…</Message></Error>.
 * @param {Response} response @returns {Promise<EchoesApiError>} */
async function uploadError(response) {
  const text = await response.text();
  const field = (/** @type {string} */ name) => text.match(new RegExp(`<${name}>([^<]*)</${name}>`))?.[1] ?? null;
  const code = field("Code");
  return new EchoesApiError(response.status, {
    error: CLIENT_ERRORS.UPLOAD,
    message: `S3 refused the upload: ${code ?? `HTTP ${response.status}`}${field("Message") ? ` (${field("Message")})` : ""}`,
    details: { s3_error: code, s3_message: field("Message") },
  });
}

/**
 * The extension and content type to declare for AUDIO, from its MIME type (a recorder's
 * "audio/webm;codecs=opus" included) or, for a File without one, its name.
 * @param {Blob} audio
 * @returns {{ file_extension: string, content_type: string }}
 */
export function audioFormat(audio) {
  const type = audio.type.toLowerCase();
  const base = type.split(";", 1)[0].trim();
  for (const [extension, types] of Object.entries(AUDIO_FORMATS)) {
    if (types.includes(base)) return { file_extension: extension, content_type: type };
  }
  const name = "name" in audio && typeof audio.name === "string" ? audio.name : "";
  const extension = name.includes(".") ? name.split(".").pop()?.toLowerCase() ?? "" : "";
  if (extension in AUDIO_FORMATS) {
    return { file_extension: extension, content_type: AUDIO_FORMATS[/** @type {keyof AUDIO_FORMATS} */ (extension)][0] };
  }
  throw new EchoesApiError(0, {
    error: CLIENT_ERRORS.FORMAT,
    message: `Audio of type ${JSON.stringify(audio.type)} is none of ${Object.keys(AUDIO_FORMATS).join(", ")}`,
    details: { supported_formats: Object.keys(AUDIO_FORMATS) },
  });
}

export class EchoesClient {
  /** @param {ClientOptions} options */
  constructor(options) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.getToken = options.getToken ?? (() => null);
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.retries = options.retries ?? 3;
    this.maxRetryAfterSeconds = options.maxRetryAfterSeconds ?? 30;
    this.sleep =
      options.sleep ?? ((/** @type {number} */ seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)));
  }

  /**
   * One request to the API; 429 and 503 are repeated after their Retry-After (or a short backoff).
   * @param {string} method
   * @param {string} path from the base URL, starting with "/"
   * @param {{ query?: Record<string, unknown>, body?: unknown, headers?: Record<string, string>,
   *           retryNetworkErrors?: boolean, answers?: number[] }} [options]
   *   `answers`: statuses returned rather than thrown (besides 2xx).
   * @returns {Promise<Response>}
   */
  async request(method, path, options = {}) {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value === undefined || value === null || value === "") continue;
      url.searchParams.set(name, value instanceof Date ? value.toISOString() : String(value));
    }
    for (let attempt = 0; ; attempt++) {
      /** @type {Record<string, string>} */
      const headers = { ...options.headers };
      const token = await this.getToken();
      if (token) headers.Authorization = `Bearer ${token}`;
      if (options.body !== undefined) headers["Content-Type"] = "application/json";
      let response;
      try {
        response = await this.fetch(url, {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
        });
      } catch (cause) {
        if (options.retryNetworkErrors && attempt < this.retries) {
          await this.sleep(backoff(attempt));
          continue;
        }
        throw Object.assign(networkError(cause), { attempts: attempt + 1 });
      }
      if (response.ok || options.answers?.includes(response.status)) return response;
      const error = Object.assign(await errorOf(response), { attempts: attempt + 1 });
      const wait = error.retryAfter ?? backoff(attempt);
      if (!RETRIED_STATUSES.has(response.status) || attempt >= this.retries || wait > this.maxRetryAfterSeconds) {
        throw error;
      }
      await this.sleep(wait);
    }
  }

  /** @template T @param {string} method @param {string} path @param {Parameters<EchoesClient["request"]>[2]} [options] @returns {Promise<T>} */
  async json(method, path, options) {
    const response = await this.request(method, path, options);
    return /** @type {T} */ (await response.json());
  }

  // --- system -------------------------------------------------------------------------------

  /** @returns {Promise<RootInfo>} */
  root() {
    return this.json("GET", "/");
  }

  /** Healthy (200) or degraded (503): both answer the report, neither is retried.
   * @returns {Promise<Health>} */
  async health() {
    const response = await this.request("GET", "/health", { answers: [503] });
    return response.json();
  }

  // --- uploads ------------------------------------------------------------------------------

  /** Step 1: an echo id and a presigned PUT URL for its audio.
   * @param {InitUploadRequest} request @returns {Promise<InitUploadResponse>} */
  initUpload(request) {
    return this.json("POST", "/api/v1/echoes/init-upload", { body: request });
  }

  /**
   * Step 2: the audio straight to S3, with exactly the headers init-upload listed (the URL is
   * signed for them: S3 refuses a PUT whose signed headers differ). S3's 500 and 503 are retried.
   * @param {InitUploadResponse} upload @param {Blob} audio @returns {Promise<void>}
   */
  async putAudio(upload, audio) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await this.fetch(upload.upload_url, { method: "PUT", headers: upload.upload_headers, body: audio });
      } catch (cause) {
        throw networkError(cause);
      }
      // A repeat of a PUT that did land, when the URL forbids overwrites (If-None-Match: *).
      if (response.ok || (attempt > 0 && response.status === 412)) return;
      if (![500, 503].includes(response.status) || attempt >= this.retries) throw await uploadError(response);
      await this.sleep(retryAfterOf(response) ?? backoff(attempt));
    }
  }

  /**
   * Step 3: the echo, once its audio is in S3. The same request again answers the same echo, so
   * it is repeated on 503, 429 and network failures: nothing can be created twice.
   * @param {string} echoId @param {CreateEchoRequest} request @returns {Promise<Echo>}
   */
  createEcho(echoId, request) {
    return this.json("POST", "/api/v1/echoes", { query: { echo_id: echoId }, body: request, retryNetworkErrors: true });
  }

  /**
   * The whole upload: init-upload, PUT, create. The format comes from the audio's type (or a
   * File's name); metadata is create's body (emotion, tags, transcript, duration_seconds, ...).
   * @param {Blob} audio @param {EchoMetadata} metadata @returns {Promise<Echo>}
   */
  async uploadEcho(audio, metadata) {
    const format = audioFormat(audio);
    const upload = await this.initUpload({ ...format, file_size: audio.size });
    await this.putAudio(upload, audio);
    return this.createEcho(upload.echo_id, { ...metadata, file_extension: format.file_extension });
  }

  // --- reading ------------------------------------------------------------------------------

  /** One page, newest first; pass the previous page's next_cursor as `cursor` for the next.
   * @param {ListQuery} [query] @returns {Promise<EchoPage>} */
  listEchoes(query = {}) {
    return this.json("GET", "/api/v1/echoes", { query });
  }

  /** Every page from QUERY on, following next_cursor until it is null.
   * @param {ListQuery} [query] @returns {AsyncGenerator<EchoPage, void, void>} */
  async *pages(query = {}) {
    /** @type {string | null | undefined} */
    let cursor = query.cursor;
    do {
      const page = await this.listEchoes({ ...query, cursor });
      yield page;
      cursor = page.next_cursor;
    } while (cursor);
  }

  /** @returns {Promise<EchoStats>} */
  stats() {
    return this.json("GET", "/api/v1/echoes/stats");
  }

  /** One of the caller's echoes (with EMOTION) at random; null when there is none.
   * @param {{ emotion?: Emotion }} [filter] @returns {Promise<Echo | null>} */
  async randomEcho(filter = {}) {
    const response = await this.request("GET", "/api/v1/echoes/random", { query: filter, answers: [404] });
    if (response.status === 404) {
      const error = await errorOf(response);
      if (error.error === "resource_not_found") return null;
      throw error;
    }
    return response.json();
  }

  /** @param {string} echoId @returns {Promise<TaggedEcho>} */
  async getEcho(echoId) {
    const response = await this.request("GET", echoPath(echoId));
    return { echo: await response.json(), etag: response.headers.get("ETag") };
  }

  // --- changing -----------------------------------------------------------------------------

  /**
   * Change some fields (absent: unchanged; null clears transcript, detected_mood, location).
   * With ifMatch (the ETag of the version the change was made against) a change made meanwhile
   * elsewhere makes it fail with 412 `precondition_failed` instead of being overwritten.
   * @param {string} echoId @param {UpdateEchoRequest} changes @param {{ ifMatch?: string | null }} [options]
   * @returns {Promise<TaggedEcho>}
   */
  async updateEcho(echoId, changes, options = {}) {
    const headers = options.ifMatch ? { "If-Match": options.ifMatch } : undefined;
    const response = await this.request("PATCH", echoPath(echoId), { body: changes, headers });
    return { echo: await response.json(), etag: response.headers.get("ETag") };
  }

  /**
   * Read, change, write with If-Match; when someone changed the echo in between (412), read again
   * and re-apply CHANGE to the new version, up to ATTEMPTS times.
   * @param {string} echoId @param {(echo: Echo) => UpdateEchoRequest} change @param {{ attempts?: number }} [options]
   * @returns {Promise<TaggedEcho>}
   */
  async editEcho(echoId, change, options = {}) {
    const attempts = options.attempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      const { echo, etag } = await this.getEcho(echoId);
      try {
        return await this.updateEcho(echoId, change(echo), { ifMatch: etag });
      } catch (error) {
        if (!(error instanceof EchoesApiError) || error.error !== "precondition_failed" || attempt >= attempts) throw error;
      }
    }
  }

  /** Delete the echo and its audio. A repeat after a lost answer finds it gone: that is success.
   * @param {string} echoId @returns {Promise<void>} */
  async deleteEcho(echoId) {
    try {
      await this.request("DELETE", echoPath(echoId));
    } catch (error) {
      // 404 on a repeat after a 503 or 429: the first attempt deleted it.
      if (!(error instanceof EchoesApiError && error.error === "resource_not_found" && error.attempts > 1)) throw error;
    }
  }

  // --- the account --------------------------------------------------------------------------

  /**
   * Erase the account: every echo, its audio, and the Cognito user. The API answers 202 while
   * erasure goes on; this repeats the request until 204, reporting each pass to onProgress.
   * Afterwards the token is refused (401): sign the user out.
   * @param {{ onProgress?: (progress: ErasureProgress) => void }} [options] @returns {Promise<void>}
   */
  async eraseAccount(options = {}) {
    for (;;) {
      const response = await this.request("DELETE", "/api/v1/me");
      if (response.status !== 202) return;
      options.onProgress?.(await response.json());
      await this.sleep(ERASE_PAUSE_SECONDS);
    }
  }

  /** Everything the caller has, page by page (fresh audio URLs), until next_cursor is null.
   * @returns {AsyncGenerator<ExportPage, void, void>} */
  async *exportAccount() {
    /** @type {string | null} */
    let cursor = null;
    do {
      const page = /** @type {ExportPage} */ (await this.json("GET", "/api/v1/me/export", { query: { cursor } }));
      yield page;
      cursor = page.next_cursor;
    } while (cursor);
  }
}

/** @param {string} echoId */
function echoPath(echoId) {
  return `/api/v1/echoes/${encodeURIComponent(echoId)}`;
}

/** Seconds before repeat number ATTEMPT + 1 when the answer named no Retry-After: 0.5, 1, 2, ...
 * with jitter, so that clients refused together do not come back together. @param {number} attempt */
function backoff(attempt) {
  return 0.5 * 2 ** attempt * (0.5 + Math.random() / 2);
}
