// Create job: the deployment (the endpoint's default preselected), the input (a datastore and a
// folder or file picked in its container), overrides; then straight to the job's page.

import { all, call, enc, get } from "../api.js";
import { busy, bytes, field, go, h, notice, title } from "../ui.js";

export const uri = (datastore, path) => `azureml://datastores/${datastore}/paths/${path}`;

// One level of a datastore's container; `onPick(type, path)` for "use this folder" or a file.
export function folderBrowser(datastore, onPick, start = "") {
  const box = h("div", { class: "browser", "aria-live": "polite" });
  const open = async (prefix) => {
    let listing;
    try {
      listing = await get(`/datastores/${enc(datastore)}/paths`, { query: { prefix } });
    } catch (e) {
      notice(box, e.message);
      return;
    }
    const parent = prefix.replace(/[^/]+\/$/, "");
    const name = (p) => p.slice(prefix.length);
    box.replaceChildren(...[  // (replaceChildren writes a null as the text "null")
      h("div", { class: "browser-head" },
        h("strong", {}, `${datastore}/${prefix}`),
        prefix ? h("button", { type: "button", class: "small", onclick: () => open(parent) },
          "Up one folder") : null,
        onPick && prefix ? h("button", { type: "button", class: "small primary",
          onclick: () => onPick("uri_folder", prefix) }, "Use this folder") : null),
      listing.folders.length || listing.files.length ? h("ul", { class: "entries" },
        listing.folders.map((f) => h("li", {}, h("button", { type: "button", class: "entry",
          "aria-label": `Open folder ${name(f)}`, onclick: () => open(f) }, name(f)))),
        listing.files.map((f) => h("li", {}, onPick
          ? h("button", { type: "button", class: "entry", "aria-label": `Use file ${name(f.name)}`,
            onclick: () => onPick("uri_file", f.name) }, name(f.name))
          : h("span", { class: "entry" }, name(f.name)),
        h("span", { class: "muted" }, ` ${bytes(f.size)}`))))
        : h("p", { class: "empty" }, "This folder is empty."),
      listing.truncated ? h("p", { class: "muted" }, "Only the first entries are shown.") : null,
    ].filter(Boolean));
  };
  open(start);
  return box;
}

// "Or upload files": into <datastore>/uploads/<time>/, then that folder is the input.
function uploader(store, onDone) {
  const files = h("input", { type: "file", name: "upload_files", multiple: true });
  const status = h("span", { class: "muted", "aria-live": "polite" });
  const send = h("button", { type: "button", onclick: async () => {
    const chosen = [...files.files];
    if (!chosen.length) { status.textContent = "Choose files first."; return; }
    const folder = `uploads/${new Date().toISOString().replace(/[:.]/g, "-")}/`;
    send.disabled = true;
    try {
      for (const [i, file] of chosen.entries()) {
        status.textContent = `Uploading ${i + 1} of ${chosen.length}: ${file.name}`;
        await call("PUT", `/datastores/${enc(store.value)}/paths/${folder}${enc(file.name)}`,
          { body: file });
      }
      status.textContent = `Uploaded ${chosen.length} file(s) to ${store.value}/${folder}`;
      onDone(folder);
    } catch (e) {
      status.textContent = e.message;
    } finally {
      send.disabled = false;
    }
  } }, "Upload and use");
  return h("div", { class: "row upload" }, field("Or upload files", files,
    "They go to the datastore under uploads/<time>/, which becomes the input."),
  h("div", { class: "actions" }, send, status));
}

export async function view(ctx) {
  const [endpoints, datastores] = await Promise.all([all("/endpoints"), all("/datastores")]);
  if (!endpoints.length) {
    return h("section", {}, title("Create job"), h("p", { class: "empty" },
      "There is no batch endpoint yet. ", h("a", { href: "#/endpoints" }, "Create one first.")));
  }
  const out = h("div");
  const endpoint = h("select", { name: "endpoint" }, endpoints.map((e) =>
    h("option", { value: e.name, selected: e.name === ctx.query.endpoint }, e.name)));
  const deployment = h("select", { name: "deployment" });
  const loadDeployments = async () => {
    const ep = endpoints.find((e) => e.name === endpoint.value);
    const list = await all(`/endpoints/${enc(endpoint.value)}/deployments`).catch(() => []);
    const wanted = ctx.query.deployment || ep?.defaults?.deployment_name;
    deployment.replaceChildren(...list.map((d) => h("option", { value: d.name,
      selected: d.name === wanted },
    d.name === ep?.defaults?.deployment_name ? `${d.name} (default)` : d.name)));
  };
  endpoint.addEventListener("change", () => { ctx.query.deployment = ""; loadDeployments(); });
  await loadDeployments();

  const store = h("select", { name: "datastore" }, datastores.map((d) =>
    h("option", { value: d.name, selected: d.is_default }, d.name)));
  const kind = h("select", { name: "input_type" },
    h("option", { value: "uri_folder" }, "uri_folder (a folder)"),
    h("option", { value: "uri_file" }, "uri_file (one file)"));
  const path = h("input", { name: "input_path", required: true, class: "wide-input",
    placeholder: "azureml://datastores/workspaceblobstore/paths/<folder>" });
  const browserSlot = h("div");
  const pick = (type, p) => {
    kind.value = type;
    path.value = uri(store.value, p);
    path.focus();
  };
  const showBrowser = (start) => browserSlot.replaceChildren(
    folderBrowser(store.value, pick, start));
  store.addEventListener("change", () => showBrowser());
  showBrowser();
  const upload = uploader(store, (folder) => { pick("uri_folder", folder); showBrowser(folder); });

  const mbs = h("input", { type: "number", name: "mini_batch_size", min: "1" });
  const outName = h("input", { name: "output_file_name" });
  const threshold = h("input", { type: "number", name: "error_threshold", min: "-1" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create job");
  const onsubmit = (ev) => {
    ev.preventDefault();
    const body = { inputs: { input_data: { type: kind.value, path: path.value.trim() } } };
    if (deployment.value) body.deployment_name = deployment.value;
    if (mbs.value) body.mini_batch_size = Number(mbs.value);
    if (outName.value.trim()) body.output_file_name = outName.value.trim();
    if (threshold.value) body.error_threshold = Number(threshold.value);
    busy(submit, call("POST", `/endpoints/${enc(endpoint.value)}/jobs`, { json: body })
      .then((job) => go(`#/jobs/${enc(job.name)}`)).catch((e) => notice(out, e.message)));
  };
  return h("section", {}, title("Create job"),
    h("form", { class: "card", onsubmit },
      h("h2", {}, "1. Deployment"),
      h("div", { class: "row" }, field("Endpoint", endpoint), field("Deployment", deployment,
        "The endpoint's default is preselected.")),
      h("h2", {}, "2. Input"),
      h("div", { class: "row" }, field("Datastore", store), field("Input type", kind)),
      browserSlot, upload,
      field("Input path", path, "Pick a folder or a file above, or type an azureml:// path."),
      h("h2", {}, "3. Overrides (optional)"),
      h("div", { class: "row" },
        field("Mini-batch size", mbs, "Blank: the deployment's."),
        field("Output file name", outName, "Blank: the deployment's."),
        field("Error threshold", threshold, "-1: never fail for failed items.")),
      out, h("div", { class: "actions" }, submit)));
}
