// Studio's router: #/path?query → a view. Each view renders into <main>; a view that polls
// stops when ctx.alive() turns false (the user went elsewhere).

import { credentials, describeCredentials } from "./api.js";
import { h, notice } from "./ui.js";
import * as assets from "./views/assets.js";
import * as consume from "./views/consume.js";
import * as createJob from "./views/create-job.js";
import * as deployment from "./views/deployment.js";
import * as endpoints from "./views/endpoints.js";
import * as jobs from "./views/jobs.js";
import * as settings from "./views/settings.js";

const ROUTES = [
  [/^\/endpoints$/, endpoints.list, "endpoints"],
  [/^\/endpoints\/([^/]+)$/, endpoints.show, "endpoints"],
  [/^\/endpoints\/([^/]+)\/deployments\/new$/, deployment.edit, "endpoints"],
  [/^\/endpoints\/([^/]+)\/deployments\/([^/]+)\/edit$/, deployment.edit, "endpoints"],
  [/^\/endpoints\/([^/]+)\/jobs$/, jobs.list, "endpoints"],
  [/^\/endpoints\/([^/]+)\/consume$/, consume.view, "endpoints"],
  [/^\/jobs$/, jobs.list, "jobs"],
  [/^\/jobs\/([^/]+)$/, jobs.show, "jobs"],
  [/^\/create-job$/, createJob.view, "create-job"],
  [/^\/models$/, assets.models, "models"],
  [/^\/datastores$/, assets.datastores, "datastores"],
  [/^\/datastores\/([^/]+)$/, assets.browse, "datastores"],
  [/^\/drops$/, assets.drops, "drops"],
  [/^\/settings$/, settings.view, "settings"],
];

let generation = 0;

async function render() {
  const main = document.getElementById("main");
  const raw = window.location.hash.replace(/^#/, "") || "/endpoints";
  const [path, search = ""] = raw.split("?");
  const query = Object.fromEntries(new URLSearchParams(search));
  const mine = ++generation;
  const ctx = { query, alive: () => mine === generation && document.body.contains(main) };
  showWho();
  let found = ROUTES.find(([re]) => re.test(path));
  if (!credentials.key && !credentials.token) found = ROUTES.find(([, , nav]) => nav === "settings");
  for (const a of document.querySelectorAll("nav a")) {
    if (found && a.dataset.nav === found[2]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!found) {
    main.replaceChildren(h("h1", { tabindex: "-1" }, "Page not found"),
      h("p", {}, h("a", { href: "#/endpoints" }, "Go to the endpoints")));
    return;
  }
  const [re, view] = found;
  const params = (re.exec(path) || []).slice(1).map(decodeURIComponent);
  main.replaceChildren(h("p", { class: "loading" }, "Loading…"));
  try {
    const node = await view(ctx, ...params);
    if (mine !== generation) return;
    main.replaceChildren(node);
  } catch (e) {
    if (mine !== generation) return;
    main.replaceChildren(h("h1", { tabindex: "-1" }, "Could not show this page"));
    notice(main.appendChild(h("div")), e.message || String(e));
  }
  const heading = main.querySelector("h1");
  if (heading && document.activeElement === document.body) heading.focus();
  document.title = `${heading ? heading.textContent : "Studio"} · Batch endpoints Studio`;
}

function showWho() {
  document.getElementById("who").textContent = describeCredentials();
}

window.addEventListener("hashchange", () => { document.activeElement?.blur(); render(); });
render();
