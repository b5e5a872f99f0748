// Assets: models (their versions, register by upload, delete a version), datastores (list,
// browse), rejected drops.

import { all, call, enc } from "../api.js";
import {
  busy, bytes, confirmDialog, crumbs, field, go, h, link, notice, table, title, when,
} from "../ui.js";
import { folderBrowser } from "./create-job.js";

const tensors = (list) => (list || []).map((t) => `${t.name} ${t.dtype} [${(t.shape || [])
  .map((d) => d ?? "?").join(", ")}]`).join("; ");

export async function models(ctx) {
  const list = await all("/models");
  const out = h("div", { "aria-live": "polite" });
  const rows = list.map((m) => [
    h("strong", {}, m.name), m.version, tensors(m.signature?.inputs),
    tensors(m.signature?.outputs), bytes(m.size_bytes),
    h("code", { title: m.sha256 }, (m.sha256 || "").slice(0, 12)), when(m.created_at),
    h("button", { type: "button", class: "danger small",
      "aria-label": `Delete model ${m.name} version ${m.version}`,
      onclick: (ev) => removeModel(ev.target, m, out) }, "Delete"),
  ]);
  return h("section", {}, title("Models"),
    ctx.query.registered ? h("div", { class: "notice ok", role: "status" },
      `Registered ${ctx.query.registered}.`) : null,
    out,
    table("Registered models", ["Name", "Version", "Inputs", "Outputs", "Size", "sha256",
      "Registered", ""], rows, "No models registered yet: register one below."),
    registerForm());
}

async function removeModel(button, model, out) {
  const ok = await confirmDialog(`Delete model ${model.name} version ${model.version}?`, [
    "Its ONNX file is deleted; other versions stay.",
    "The service refuses while a deployment or a running job uses this version."],
  "Delete version");
  if (!ok) return;
  try {
    await busy(button, call("DELETE",
      `/models/${enc(model.name)}/versions/${enc(model.version)}`));
    go("#/models");
  } catch (e) {
    notice(out, e.message);
  }
}

function registerForm() {
  const name = h("input", { name: "model_name", required: true, autocomplete: "off" });
  const version = h("input", { name: "model_version", required: true, value: "1" });
  const description = h("input", { name: "model_description" });
  const file = h("input", { type: "file", name: "model_file", accept: ".onnx", required: true });
  const out = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, "Register model");
  return h("form", { class: "card", "aria-labelledby": "reg-h", onsubmit: (ev) => {
    ev.preventDefault();
    const chosen = file.files[0];
    if (!chosen) { notice(out, "Choose an .onnx file to upload."); return; }
    const query = description.value ? `?description=${enc(description.value)}` : "";
    busy(submit, call("PUT",
      `/models/${enc(name.value.trim())}/versions/${enc(version.value.trim())}${query}`,
      { body: chosen }).then((doc) => go(`#/models?registered=${enc(doc.id)}`))
      .catch((e) => notice(out, e.message)));
  } },
  h("h2", { id: "reg-h" }, "Register a model"),
  h("p", {}, "Upload an ONNX file (up to 100 MB). The service loads it once with ONNX Runtime " +
    "to read its signature and refuses a file that is not a valid model."),
  h("div", { class: "row" }, field("Name", name), field("Version", version),
    field("Description", description), field("ONNX file", file)),
  h("div", { class: "actions" }, submit), out);
}

export async function datastores() {
  const list = await all("/datastores");
  const rows = list.map((d) => [
    link(`#/datastores/${enc(d.name)}`, d.name), d.container_name, d.account_name,
    d.is_default ? "yes" : "", d.description || ""]);
  return h("section", {}, title("Datastores"),
    h("p", {}, "Named blob containers: job inputs are read from them, outputs written to them."),
    table("Datastores", ["Name", "Container", "Account", "Default", "Description"], rows));
}

export async function browse(ctx, name) {
  return h("section", {}, crumbs(["#/datastores", "Datastores"], [null, name]),
    title(`Datastore ${name}`), folderBrowser(name, null));
}

export async function drops() {
  const list = await all("/drops/rejected");
  const rows = list.map((r) => [when(r.at), h("code", {}, `${r.container}/${r.blob}`),
    r.source || "", r.reason || ""]);
  return h("section", {}, title("Rejected drops"),
    h("p", {}, "Files dropped into the inbox (or announced by Event Grid) that could not " +
      "become jobs, and why."),
    table("Rejected drops", ["When", "Blob", "Source", "Reason"], rows,
      "No rejected drops."));
}
