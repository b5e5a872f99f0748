// Small DOM helpers: elements are built with h(), never from HTML strings, so text from the
// service (names, error messages, file names) can never become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  append(el, children);
  return el;
}

export const link = (href, text, attrs = {}) => h("a", { href, ...attrs }, text);

// A table with a caption (for screen readers) and a message instead when there are no rows.
export function table(caption, columns, rows, empty = "Nothing here yet.") {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((cell) => h("td", {}, cell))))));
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const hintEl = hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

export function badge(status) {
  return h("span", { class: `badge s-${String(status || "").toLowerCase()}` }, status || "—");
}

// Where a view reports what happened: errors in plain words, or a done message.
export function notice(container, message, kind = "error") {
  const el = h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    message);
  container.replaceChildren(el);
  return el;
}

// A modal question (native <dialog>: focus moves in, Esc closes). Resolves true on confirm.
export function confirmDialog(title, body, confirmLabel, { danger = true } = {}) {
  return new Promise((resolve) => {
    const dlg = h("dialog", { "aria-labelledby": "dlg-title" },
      h("h2", { id: "dlg-title" }, title),
      ...[body].flat().map((p) => h("p", {}, p)),
      h("div", { class: "actions" },
        h("button", { type: "button", class: danger ? "danger" : "primary", "data-confirm": "1",
          onclick: () => dlg.close("yes") }, confirmLabel),
        h("button", { type: "button", onclick: () => dlg.close("no") }, "Cancel")));
    dlg.addEventListener("close", () => { dlg.remove(); resolve(dlg.returnValue === "yes"); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  return m < 90 ? `${m} min ${Math.round(seconds % 60)} s` : `${(m / 60).toFixed(1)} h`;
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// RFC 4180 CSV (quoted fields may hold commas, quotes and newlines): rows of strings.
export function parseCsv(text) {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i += 1; }
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") { row.push(cell); cell = ""; }
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else cell += ch;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows;
}

// Saves a response body as a file: downloads need the key header, so no plain <a href>.
export function saveBlob({ blob, fileName }, fallback) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: fileName || fallback, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function busy(button, promise) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  return promise.finally(() => { button.disabled = false; button.removeAttribute("aria-busy"); });
}

export const title = (text) => h("h1", { tabindex: "-1" }, text);

export function crumbs(...items) {
  return h("nav", { "aria-label": "Breadcrumb", class: "crumbs" },
    h("ol", {}, items.map(([href, text]) => h("li", {}, href ? link(href, text) : text))));
}

// Shows `hash` (rendering it again when it is the page already shown).
export function go(hash = window.location.hash) {
  if (window.location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else window.location.hash = hash;
}
