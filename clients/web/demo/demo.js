// @ts-check
// The demo's behaviour. It talks to the API and S3 only through EchoesClient and to Cognito only
// through CognitoAuth: what it does, a frontend can copy.
import { CognitoAuth } from "../cognito-auth.js";
import { EchoesApiError, EchoesClient } from "../echoes-client.js";

/** @typedef {import("../echoes-client.js").Echo} Echo */
/** @typedef {import("../echoes-client.js").Emotion} Emotion */

/**
 * Settings: config.json (written by ./scripts/local.sh for the local stack), then the query
 * string: ?api=…&userPoolId=…&clientId=…[&cognitoEndpoint=…] for a deployed stage.
 * @typedef {{ api?: string, userPoolId?: string, clientId?: string, cognitoEndpoint?: string }} Settings
 */

/** @template {HTMLElement} T @param {string} id @returns {T} */
const $ = (id) => /** @type {T} */ (document.getElementById(id));
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @param {string} id */
const select = (id) => /** @type {HTMLSelectElement} */ ($(id));
/** @param {string} id */
const button = (id) => /** @type {HTMLButtonElement} */ ($(id));

/** @type {CognitoAuth} */
let auth;
/** @type {EchoesClient} */
let client;
/** @type {{ audio: Blob, duration: number | null } | null} */
let pending = null;
/** @type {string | null} */
let nextCursor = null;

/** @returns {Promise<Settings>} */
async function loadSettings() {
  /** @type {Settings} */
  let settings = {};
  const answer = await fetch("config.json", { cache: "no-store" }).catch(() => null);
  if (answer?.ok) settings = await answer.json();
  for (const [name, value] of new URLSearchParams(location.search)) {
    settings[/** @type {keyof Settings} */ (name)] = value;
  }
  return settings;
}

/** Shows what an action did; #status's data-seq counts finished actions, data-error names the
 * last error's code (EchoesApiError.error or CognitoAuthError.code). */
const status = {
  /** @param {string} text */
  busy(text) {
    Object.assign($("status"), { textContent: text });
    $("status").dataset.state = "busy";
  },
  /** @param {string} text @param {"ok" | "error"} state @param {string} [code] */
  done(text, state, code = "") {
    const element = $("status");
    element.textContent = text;
    element.dataset.state = state;
    element.dataset.error = code;
    element.dataset.seq = String(Number(element.dataset.seq) + 1);
  },
};

/** Run ACTION, reporting it; errors are shown with their code, status and request id.
 * @param {string} label @param {() => Promise<string | void>} action */
async function run(label, action) {
  status.busy(`${label}…`);
  try {
    status.done((await action()) || `${label}: done`, "ok");
  } catch (error) {
    if (error instanceof EchoesApiError) {
      const where = [error.status && `HTTP ${error.status}`, error.request_id && `request ${error.request_id}`];
      const details = error.details ? `\n${JSON.stringify(error.details)}` : "";
      status.done(`${label}: ${error.error}: ${error.message} (${where.filter(Boolean).join(", ")})${details}`, "error", error.error);
    } else {
      const { code, message } = /** @type {{ code?: string, message?: string }} */ (error);
      status.done(`${label}: ${code ?? "error"}: ${message ?? error}`, "error", code ?? "error");
    }
  }
}

/** @param {boolean} signedIn @param {string} [email] */
function showSignedIn(signedIn, email = "") {
  $("signed-out").hidden = signedIn;
  $("signed-in").hidden = !signedIn;
  for (const id of ["capture", "library", "listen"]) $(id).hidden = !signedIn;
  $("who").textContent = email;
  button("erase-confirm").hidden = true;
  if (!signedIn) {
    $("echo-list").replaceChildren();
    for (const id of ["filter-emotion", "filter-tag"]) input(id).value = ""; // the next user's view starts unfiltered
  }
}

/** The emotions come from the API itself: stats names every one of them. */
async function loadStats() {
  const stats = await client.stats();
  const emotions = Object.keys(stats.by_emotion);
  for (const id of ["emotion", "filter-emotion", "random-emotion"]) {
    const list = select(id);
    const chosen = list.value;
    const first = list.id === "emotion" ? [] : [list.options[0]];
    list.replaceChildren(...first, ...emotions.map((emotion) => new Option(emotion, emotion)));
    list.value = chosen;
  }
  $("stats").textContent = `${stats.total_count} in all`;
}

/** @param {Echo} echo */
function describe(echo) {
  return `${echo.emotion}${echo.tags.length ? ` [${echo.tags.join(", ")}]` : ""}`;
}

/** @param {Echo} echo @returns {HTMLLIElement} */
function renderEcho(echo) {
  const template = /** @type {HTMLTemplateElement} */ ($("echo-item"));
  const item = /** @type {HTMLLIElement} */ (template.content.firstElementChild?.cloneNode(true));
  item.dataset.echoId = echo.echo_id;
  /** @param {string} name */
  const part = (name) => /** @type {HTMLElement} */ (item.querySelector(`.${name}`));
  part("emotion").textContent = echo.emotion;
  part("tags").textContent = echo.tags.join(", ");
  part("when").textContent = new Date(echo.recorded_at).toLocaleString();
  part("play").onclick = () => run("Play", () => play(echo));
  part("delete").onclick = () =>
    run("Delete", async () => {
      await client.deleteEcho(echo.echo_id);
      item.remove();
      await loadStats();
      return `Deleted ${describe(echo)}`;
    });
  // Editing keeps the ETag of the version shown, and sends it back as If-Match: a change made
  // elsewhere meanwhile is refused (412) rather than overwritten.
  part("edit").onclick = () =>
    run("Open", async () => {
      const { echo: current, etag } = await client.getEcho(echo.echo_id);
      item.dataset.etag = etag ?? "";
      /** @type {HTMLInputElement} */ (part("edit-tags")).value = current.tags.join(", ");
      part("tags").textContent = current.tags.join(", ");
      part("editor").hidden = false;
      return `Editing version ${current.version}`;
    });
  part("save").onclick = () =>
    run("Save tags", async () => {
      const tags = splitTags(/** @type {HTMLInputElement} */ (part("edit-tags")).value);
      try {
        const { echo: saved, etag } = await client.updateEcho(echo.echo_id, { tags }, { ifMatch: item.dataset.etag });
        item.dataset.etag = etag ?? "";
        part("tags").textContent = saved.tags.join(", ");
        part("editor").hidden = true;
        return `Saved: ${describe(saved)} (version ${saved.version})`;
      } catch (error) {
        if (error instanceof EchoesApiError && error.error === "precondition_failed") {
          const { echo: current, etag } = await client.getEcho(echo.echo_id);
          item.dataset.etag = etag ?? "";
          part("tags").textContent = current.tags.join(", ");
        }
        throw error;
      }
    });
  return item;
}

/** @param {string} text */
function splitTags(text) {
  return text.split(",").map((tag) => tag.trim()).filter(Boolean);
}

/** @param {boolean} more append the next page instead of starting again */
async function showEchoes(more) {
  const page = await client.listEchoes({
    emotion: /** @type {Emotion} */ (select("filter-emotion").value) || undefined,
    tag: input("filter-tag").value.trim() || undefined,
    page_size: Number(select("page-size").value),
    cursor: more ? nextCursor : undefined,
  });
  const items = page.echoes.map(renderEcho);
  more ? $("echo-list").append(...items) : $("echo-list").replaceChildren(...items);
  nextCursor = page.next_cursor;
  $("more").hidden = !nextCursor;
  return `${$("echo-list").children.length} shown${nextCursor ? ", more to come" : ""}`;
}

/** @param {Echo} echo */
async function play(echo) {
  const player = /** @type {HTMLAudioElement} */ ($("player"));
  $("now-playing").dataset.played = "";
  $("now-playing").textContent = `Playing ${describe(echo)}`;
  player.onended = () => {
    $("now-playing").dataset.played = echo.echo_id;
    $("now-playing").textContent = `Played ${describe(echo)}`;
  };
  player.src = echo.audio_url; // a short-lived presigned GET: play it soon after listing
  await player.play();
  return `Playing ${describe(echo)}`;
}

// --- capture: MediaRecorder or a file --------------------------------------------------------

/** @type {MediaRecorder | null} */
let recorder = null;

async function startRecording() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const chunks = /** @type {Blob[]} */ ([]);
  const started = performance.now();
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (event) => chunks.push(event.data);
  const stopped = new Promise((resolve) => {
    /** @type {MediaRecorder} */ (recorder).onstop = resolve;
  });
  recorder.start();
  button("record").disabled = true;
  button("stop").disabled = false;
  $("recorded").dataset.ready = "";
  $("recorded").textContent = "Recording…";
  await stopped;
  stream.getTracks().forEach((track) => track.stop());
  const duration = (performance.now() - started) / 1000;
  // The recorder's own type ("audio/webm;codecs=opus" in Chromium): the client maps it to webm.
  chooseAudio(new Blob(chunks, { type: /** @type {MediaRecorder} */ (recorder).mimeType }), duration);
  button("record").disabled = false;
  button("stop").disabled = true;
}

/** @param {Blob} audio @param {number | null} duration */
function chooseAudio(audio, duration) {
  pending = { audio, duration };
  const seconds = duration ? `${duration.toFixed(1)} s, ` : "";
  $("recorded").textContent = `Ready: ${seconds}${audio.size} bytes of ${audio.type || "unknown type"}`;
  $("recorded").dataset.ready = "true";
  button("upload").disabled = false;
}

/** A picked file's duration, when the browser can tell it (null otherwise).
 * @param {File} file @returns {Promise<number | null>} */
function fileDuration(file) {
  return new Promise((resolve) => {
    const probe = new Audio();
    const url = URL.createObjectURL(file);
    const done = (/** @type {number | null} */ value) => {
      URL.revokeObjectURL(url);
      resolve(value);
    };
    probe.onloadedmetadata = () => done(Number.isFinite(probe.duration) ? probe.duration : null);
    probe.onerror = () => done(null);
    probe.src = url;
  });
}

async function upload() {
  if (!pending) throw new Error("record or pick some audio first");
  const { audio, duration } = pending;
  const echo = await client.uploadEcho(audio, {
    emotion: /** @type {Emotion} */ (select("emotion").value),
    tags: splitTags(input("tags").value),
    // The API takes 0.1 to 300 s; it is optional, so an unknown length is left out.
    duration_seconds: duration && duration >= 0.1 ? Math.min(duration, 300) : undefined,
  });
  pending = null;
  button("upload").disabled = true;
  $("recorded").dataset.ready = "";
  $("recorded").textContent = "Uploaded.";
  await loadStats();
  await showEchoes(false);
  return `Uploaded ${describe(echo)} as ${echo.echo_id}`;
}

// --- wiring ------------------------------------------------------------------------------------

async function openAccount() {
  showSignedIn(true, (await auth.email()) ?? "");
  await loadStats();
  return showEchoes(false);
}

function wire() {
  const email = () => input("email").value.trim();
  button("sign-in").onclick = () =>
    run("Sign in", async () => {
      await auth.signIn(email(), input("password").value);
      return `Signed in. ${await openAccount()}`;
    });
  button("sign-up").onclick = () =>
    run("Create account", async () => {
      const { confirmed } = await auth.signUp(email(), input("password").value);
      $("confirm-step").hidden = confirmed;
      return confirmed ? "Account created: sign in" : "Account created: enter the code Cognito e-mailed you";
    });
  button("confirm").onclick = () =>
    run("Confirm", async () => {
      await auth.confirmSignUp(email(), input("code").value.trim());
      $("confirm-step").hidden = true;
      return "Confirmed: sign in";
    });
  button("sign-out").onclick = () =>
    run("Sign out", async () => {
      showSignedIn(false);
      try {
        await auth.signOut();
      } catch (error) {
        // The session is gone here either way; only the refresh token's revocation failed
        // (moto, the local stack's Cognito, has no RevokeToken).
        return `Signed out; Cognito did not revoke the refresh token (${/** @type {Error} */ (error).message})`;
      }
      return "Signed out";
    });
  button("erase").onclick = () => {
    button("erase-confirm").hidden = false;
  };
  button("erase-confirm").onclick = () =>
    run("Erase account", async () => {
      await client.eraseAccount({
        onProgress: (progress) => status.busy(`Erasing: ${progress.message}`),
      });
      await auth.signOut({ revoke: false }); // the user no longer exists: nothing to revoke
      showSignedIn(false);
      return "Account erased: every echo, its audio and the sign-in are gone";
    });
  button("record").onclick = () => run("Record", startRecording);
  button("stop").onclick = () => recorder?.stop();
  input("file").onchange = () =>
    run("Pick a file", async () => {
      const file = input("file").files?.[0];
      if (file) chooseAudio(file, await fileDuration(file));
    });
  button("upload").onclick = () => run("Upload", upload);
  button("refresh").onclick = () => run("List", () => showEchoes(false));
  button("more").onclick = () => run("More", () => showEchoes(true));
  button("random").onclick = () =>
    run("Random", async () => {
      const emotion = /** @type {Emotion} */ (select("random-emotion").value) || undefined;
      const echo = await client.randomEcho({ emotion });
      if (!echo) return `No ${emotion ?? ""} echo yet`;
      return play(echo);
    });
}

async function main() {
  const settings = await loadSettings();
  if (!settings.api || !settings.userPoolId || !settings.clientId) {
    $("config").textContent = "Not configured: open this page with ?api=…&userPoolId=…&clientId=… (docs/frontend.md)";
    return;
  }
  if (!("AmazonCognitoIdentity" in globalThis)) {
    throw new Error("amazon-cognito-identity-js did not load: npm ci --prefix clients/web (./scripts/local.sh runs it)");
  }
  $("config").textContent = `API ${settings.api} · user pool ${settings.userPoolId}${
    settings.cognitoEndpoint ? ` at ${settings.cognitoEndpoint}` : ""
  }`;
  // sessionStorage: the session goes with the tab (the library's default is localStorage).
  auth = new CognitoAuth({
    userPoolId: settings.userPoolId,
    clientId: settings.clientId,
    endpoint: settings.cognitoEndpoint || undefined,
    storage: sessionStorage,
  });
  client = new EchoesClient({ baseUrl: settings.api, getToken: () => auth.accessToken() });
  wire();
  if (await auth.signedIn().catch(() => null)) await run("Resume", openAccount);
  document.body.dataset.ready = "true";
}

main().catch((error) => status.done(`The demo could not start: ${error}`, "error", "startup"));
