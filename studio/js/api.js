// Calls to the service's HTTP API. The function key (and an Entra token, for endpoints whose
// auth_mode is aad_token) come from the user, are kept in this browser's storage and travel
// only in request headers: never in the page or a URL.

const KEY = "studio.functionKey";
const TOKEN = "studio.entraToken";
const REMEMBER = "studio.remember";

// The page is served at <base>/studio/: the API is <base>/ whatever the routePrefix.
export const apiBase = new URL("..", window.location.href).href.replace(/\/$/, "");

function store() {
  return localStorage.getItem(REMEMBER) === "1" ? localStorage : sessionStorage;
}

export const credentials = {
  get key() { return store().getItem(KEY) || ""; },
  get token() { return store().getItem(TOKEN) || ""; },
  get remembered() { return localStorage.getItem(REMEMBER) === "1"; },
  save({ key, token, remember }) {
    for (const s of [localStorage, sessionStorage]) { s.removeItem(KEY); s.removeItem(TOKEN); }
    if (remember) localStorage.setItem(REMEMBER, "1"); else localStorage.removeItem(REMEMBER);
    if (key) store().setItem(KEY, key);
    if (token) store().setItem(TOKEN, token);
  },
};

export function describeCredentials() {
  const parts = [];
  if (credentials.key) parts.push("function key set");
  if (credentials.token) parts.push("Entra token set");
  return parts.length ? parts.join(" · ") : "no key: open Settings";
}

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  if (credentials.key) h["x-functions-key"] = credentials.key;
  if (credentials.token) h["Authorization"] = `Bearer ${credentials.token}`;
  return h;
}

// What went wrong, in words a user can act on.
function explain(status, body, method, path) {
  const err = body && typeof body === "object" ? body.error : null;
  const detail = err && err.message ? err.message : "";
  if (status === 401 || status === 403) {
    return `The service refused the credentials (${status}). Open Settings and enter the ` +
      "function key (scripts/run prints it; it is functionKeys.default in .devhost/keys.json)" +
      (credentials.token ? ", and check that the Entra token has not expired." : ".");
  }
  if (status === 404 && !detail) return `The service has no ${method} ${path} (404).`;
  if (status >= 500) {
    return `The service failed (${status})${detail ? `: ${detail}` : ""}. The host log has the details.`;
  }
  if (err && err.target && !detail.startsWith(err.target)) return `${err.target}: ${detail}`;
  return detail || `The service answered ${status} to ${method} ${path}.`;
}

// One call: JSON in, JSON (or text, or a Blob) out; any failure is an ApiError in plain words.
// `as: "versioned"` answers {doc, etag}: the ETag a later PUT names in If-Match.
export async function call(method, path,
  { json, body, type, as = "json", query, headers: extra } = {}) {
  const url = new URL(apiBase + path);
  for (const [k, v] of Object.entries(query || {})) if (v) url.searchParams.set(k, v);
  const init = { method, headers: headers(extra), cache: "no-store" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["content-type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
    init.headers["content-type"] = type || "application/octet-stream";
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch {
    throw new ApiError(`Could not reach the service at ${apiBase}. Is the host running ` +
      "(scripts/run)?", 0, null);
  }
  const text = as === "blob" && resp.ok ? null : await resp.text();
  let parsed = null;
  if (text) { try { parsed = JSON.parse(text); } catch { parsed = null; } }
  if (!resp.ok) throw new ApiError(explain(resp.status, parsed, method, path), resp.status, parsed);
  if (as === "blob") {
    const name = /filename="([^"]+)"/.exec(resp.headers.get("content-disposition") || "");
    return { blob: await resp.blob(), fileName: name ? name[1] : "" };
  }
  if (as === "text") return text;
  if (as === "versioned") return { doc: parsed, etag: resp.headers.get("etag") };
  return parsed;
}

// Conditional PUTs: create only (412 if the name exists), or replace only the version read.
export const createOnly = { "If-None-Match": "*" };
export const onlyVersion = (etag) => (etag ? { "If-Match": etag } : {});

export const get = (path, opts) => call("GET", path, opts);
export const enc = encodeURIComponent;

// A list answer: a bare array, {"value": [...]}, or a page {"value": [...], "nextLink": url}.
export function page(answer) {
  if (Array.isArray(answer)) return { items: answer, next: null };
  return { items: (answer && answer.value) || [], next: (answer && answer.nextLink) || null };
}

// Follows a nextLink (an absolute URL from the service, or a path under the API).
export async function nextPage(link) {
  const url = new URL(link, apiBase + "/");
  const path = url.href.startsWith(apiBase) ? url.href.slice(apiBase.length) : url.pathname;
  return page(await get(path));
}

// All items of a list, following nextLinks (for short lists: endpoints, models, ...).
export async function all(path, opts) {
  let { items, next } = page(await get(path, opts));
  const out = [...items];
  while (next) {
    ({ items, next } = await nextPage(next));
    out.push(...items);
  }
  return out;
}

// Whether the service offers a route: a route it lacks is a bare 404; a route it has answers
// anything else (a 404 naming a missing resource comes with an error body). Probes name
// things that do not exist, so they never act on anything.
const probes = new Map();
export function offers(method, path) {
  if (!probes.has(path)) {
    probes.set(path, fetch(apiBase + path, {
      method, headers: headers({ "content-type": "application/json" }), body: "{}",
    }).then(async (r) => r.status !== 404 || (await r.text()).includes('"error"'))
      .catch(() => false));
  }
  return probes.get(path);
}
