// Endpoints → Batch endpoints: the list, create, delete; one endpoint with its deployments,
// "Update default deployment", deleting a deployment, and Preview when the API offers it.

import { all, call, createOnly, enc, get, offers, onlyVersion, page } from "../api.js";
import {
  badge, busy, confirmDialog, crumbs, field, go, h, link, notice, table, title,
} from "../ui.js";
import { endpointTabs } from "./consume.js";
import { scoringSummary, scriptSummary, settingsSummary } from "./deployment.js";

const NAME_RULE = "3–32 characters: letters, digits and '-', starting with a letter, " +
  "not ending with '-'.";

async function lastJob(endpoint) {
  try {
    // The service lists jobs newest first: the first of a one-item page is the last job.
    return page(await get(`/endpoints/${enc(endpoint)}/jobs`, { query: { $top: "1" } }))
      .items[0] || null;
  } catch {
    return null;
  }
}

export async function list() {
  const endpoints = await all("/endpoints");
  const extra = await Promise.all(endpoints.map(async (e) => ({
    deployments: await all(`/endpoints/${enc(e.name)}/deployments`).catch(() => []),
    job: await lastJob(e.name),
  })));
  const out = h("div");
  const rows = endpoints.map((e, i) => {
    const { deployments, job } = extra[i];
    return [
      link(`#/endpoints/${enc(e.name)}`, e.name),
      e.description || "",
      e.defaults?.deployment_name || h("span", { class: "muted" }, "none"),
      String(deployments.length),
      job ? h("span", {}, link(`#/jobs/${enc(job.name)}`, job.name), " ", badge(job.status))
        : h("span", { class: "muted" }, "no jobs"),
      h("button", { type: "button", class: "danger small",
        "aria-label": `Delete endpoint ${e.name}`,
        onclick: (ev) => remove(ev.target, e.name, deployments.length, out) }, "Delete"),
    ];
  });
  return h("section", {}, title("Batch endpoints"),
    h("p", {}, "An endpoint is a stable URL; invoking it starts a batch job under its default " +
      "deployment."),
    table("Batch endpoints", ["Name", "Description", "Default deployment", "Deployments",
      "Last job", ""], rows, "No batch endpoints yet: create one below."),
    out, createForm());
}

function createForm() {
  const name = h("input", { name: "name", required: true, pattern:
    "[a-zA-Z]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?", minlength: "3", maxlength: "32",
  autocomplete: "off" });
  const description = h("input", { name: "description" });
  const auth = h("select", { name: "auth_mode" },
    h("option", { value: "key" }, "key (function key)"),
    h("option", { value: "aad_token" }, "aad_token (Entra ID token)"));
  const out = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, "Create endpoint");
  return h("form", { class: "card", "aria-labelledby": "create-ep", onsubmit: (ev) => {
    ev.preventDefault();
    const wanted = name.value.trim();
    busy(submit, call("PUT", `/endpoints/${enc(wanted)}`, {
      json: { description: description.value, auth_mode: auth.value }, headers: createOnly,
    }).then((doc) => go(`#/endpoints/${enc(doc.name)}`))
      .catch((e) => notice(out, e.status === 412 ? [
        `A batch endpoint named ${wanted} exists already; nothing was changed. `,
        link(`#/endpoints/${enc(wanted)}`, `Open ${wanted} to edit it`),
        ", or choose another name."] : e.message)));
  } },
  h("h2", { id: "create-ep" }, "Create a batch endpoint"),
  h("div", { class: "row" }, field("Name", name, NAME_RULE), field("Description", description),
    field("Authentication", auth)),
  h("div", { class: "actions" }, submit), out);
}

async function remove(button, name, deploymentCount, out) {
  const ok = await confirmDialog(`Delete endpoint ${name}?`, [
    `Deleting the endpoint also deletes its ${deploymentCount} deployment(s).`,
    "Its batch scoring jobs and their outputs are kept: they stay under Jobs and in the " +
    "datastore."], "Delete endpoint");
  if (!ok) return;
  try {
    await busy(button, call("DELETE", `/endpoints/${enc(name)}`));
    go("#/endpoints");
  } catch (e) {
    notice(out, e.message);
  }
}

export async function show(ctx, name) {
  const [{ doc: endpoint, etag }, deployments] = await Promise.all([
    call("GET", `/endpoints/${enc(name)}`, { as: "versioned" }),
    all(`/endpoints/${enc(name)}/deployments`)]);
  const base = `#/endpoints/${enc(name)}`;
  const def = endpoint.defaults?.deployment_name;
  const out = h("div", { id: "endpoint-notice" });
  const previewSlot = h("div");
  const view = h("section", {},
    crumbs(["#/endpoints", "Batch endpoints"], [null, name]),
    title(name), endpointTabs(name, "Details"),
    h("p", {}, endpoint.description || h("span", { class: "muted" }, "No description.")),
    h("dl", { class: "facts" },
      h("dt", {}, "Scoring URI"), h("dd", {}, h("code", {}, endpoint.scoring_uri || "—")),
      h("dt", {}, "Authentication"), h("dd", {}, endpoint.auth_mode),
      h("dt", {}, "Default deployment"), h("dd", { id: "default-deployment" }, def || "none")),
    h("div", { class: "actions" },
      link(`#/create-job?endpoint=${enc(name)}`, "Create job", { class: "button primary" }),
      link(`${base}/deployments/new`, "Add deployment", { class: "button" }),
      h("button", { type: "button", class: "danger", onclick: (ev) =>
        remove(ev.target, name, deployments.length, out) }, "Delete endpoint")),
    out,
    h("h2", {}, "Deployments"),
    deployments.length ? deploymentTable(name, deployments, def, out)
      : h("p", { class: "empty" }, "No deployments yet: add one to score with a model."),
    deployments.length ? defaultForm(name, deployments, def, out) : null,
    editForm(endpoint, etag),
    previewSlot);
  if (deployments.length && await offers("POST",
    `/endpoints/${enc(name)}/deployments/studio-probe/preview`)) {
    previewSlot.append(previewPanel(name, deployments, def));
  }
  return view;
}

function deploymentTable(endpoint, deployments, def, out) {
  const rows = deployments.map((d) => {
    const isDefault = d.name === def;
    const reasonId = `why-${d.name}`;
    const del = h("button", { type: "button", class: "danger small", disabled: isDefault,
      "aria-label": `Delete deployment ${d.name}`,
      "aria-describedby": isDefault ? reasonId : null,
      onclick: (ev) => removeDeployment(ev.target, endpoint, d.name, out) }, "Delete");
    return [
      h("span", {}, h("strong", {}, d.name), isDefault ? h("span", { class: "tag" }, "default")
        : null),
      d.model,
      d.code_configuration ? scriptSummary(d.code_configuration, out) : scoringSummary(d.scoring),
      settingsSummary(d),
      h("span", { class: "cell-actions" },
        link(`#/endpoints/${enc(endpoint)}/deployments/${enc(d.name)}/edit`, "Edit",
          { class: "button small", "aria-label": `Edit deployment ${d.name}` }),
        link(`#/endpoints/${enc(endpoint)}/jobs?deployment=${enc(d.name)}`, "Jobs",
          { class: "button small", "aria-label": `Jobs of deployment ${d.name}` }),
        del,
        isDefault ? h("span", { class: "reason", id: reasonId },
          "The default deployment cannot be deleted: make another deployment the default " +
          "first, or delete the endpoint.") : null),
    ];
  });
  return table(`Deployments of ${endpoint}`, ["Name", "Model", "Scoring", "Settings", ""], rows);
}

function defaultForm(endpoint, deployments, def, out) {
  const select = h("select", { name: "default" },
    deployments.map((d) => h("option", { value: d.name, selected: d.name === def }, d.name)));
  const submit = h("button", { type: "submit", class: "primary" }, "Update default deployment");
  return h("form", { class: "card inline", onsubmit: (ev) => {
    ev.preventDefault();
    busy(submit, call("PUT", `/endpoints/${enc(endpoint)}`, {
      json: { defaults: { deployment_name: select.value } },
    }).then(() => go())
      .catch((e) => notice(out, e.message)));
  } },
  field("Default deployment", select, "New jobs that name no deployment run here; running " +
    "jobs keep the deployment they started with."), submit);
}

// Description, tags and the job-ended webhook, edited in place; the PUT names the version
// this page read (If-Match), so a change made meanwhile elsewhere is never overwritten.
function editForm(endpoint, etag) {
  const description = h("input", { name: "description", value: endpoint.description || "" });
  const tags = h("textarea", { name: "tags", rows: 3, spellcheck: "false",
    placeholder: "team=vision" });
  tags.value = Object.entries(endpoint.tags || {}).map(([k, v]) => `${k}=${v}`).join("\n");
  const hook = endpoint.notifications?.webhook_url || "";
  const webhook = h("input", { name: "webhook_url", type: "url", value: hook,
    placeholder: "https://example.com/hooks/batch" });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, "Save endpoint");
  return h("form", { class: "card", "aria-labelledby": "edit-ep", onsubmit: (ev) => {
    ev.preventDefault();
    const parsed = {};
    for (const line of tags.value.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf("=");
      if (at < 1) { notice(out, `tags: "${line}" is not key=value`); return; }
      parsed[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    const json = { description: description.value, tags: parsed };
    if (webhook.value.trim() !== hook) {
      json.notifications = webhook.value.trim() ? { webhook_url: webhook.value.trim() } : {};
    }
    busy(submit, call("PUT", `/endpoints/${enc(endpoint.name)}`,
      { json, headers: onlyVersion(etag) })
      .then(() => go())
      .catch((e) => notice(out, e.status === 412 ? "This endpoint was changed (or " +
        "deleted) since the page was loaded; nothing was saved. Reload the page to see the " +
        "change, then edit again." : e.message)));
  } },
  h("h2", { id: "edit-ep" }, "Edit endpoint"),
  h("div", { class: "row" }, field("Description", description),
    field("Tags", tags, "One key=value per line."),
    field("Job-ended webhook", webhook, "Receives a CloudEvent when a job ends.")),
  h("div", { class: "actions" }, submit), out);
}

async function removeDeployment(button, endpoint, name, out) {
  const ok = await confirmDialog(`Delete deployment ${name}?`, [
    `The deployment ${name} is removed from ${endpoint}.`,
    "Its jobs and their outputs are kept."], "Delete deployment");
  if (!ok) return;
  try {
    await busy(button, call("DELETE", `/endpoints/${enc(endpoint)}/deployments/${enc(name)}`));
    go();
  } catch (e) {
    notice(out, e.message);
  }
}

// Scores a few sample files right away (the API's preview route), before a full job.
function previewPanel(endpoint, deployments, def) {
  const select = h("select", { name: "deployment" },
    deployments.map((d) => h("option", { value: d.name, selected: d.name === def }, d.name)));
  const paths = h("textarea", { name: "paths", required: true, rows: 3,
    placeholder: "azureml://datastores/workspaceblobstore/paths/<folder>/<file> (one per line, up to 20)" });
  const out = h("div", { "aria-live": "polite" });
  const submit = h("button", { type: "submit" }, "Preview");
  return h("form", { class: "card", "aria-labelledby": "preview-h", onsubmit: (ev) => {
    ev.preventDefault();
    busy(submit, call("POST",
      `/endpoints/${enc(endpoint)}/deployments/${enc(select.value)}/preview`,
      { json: { inputs: paths.value.split("\n").map((p) => p.trim()).filter(Boolean) } })
      .then((answer) => out.replaceChildren(previewResult(answer)))
      .catch((e) => notice(out, e.message)));
  } },
  h("h2", { id: "preview-h" }, "Preview"),
  h("p", {}, "Scores a few sample files at once and shows the rows, before a full job."),
  h("div", { class: "row" }, field("Deployment", select), field("Files", paths)),
  h("div", { class: "actions" }, submit), out);
}

// The answer: {columns, rows: [[file_name, row, ...values]], errors: [{file_name, row, reason}]}.
function previewResult(answer) {
  const text = (v) => (typeof v === "string" ? v : v === null || v === undefined ? ""
    : JSON.stringify(v));
  const columns = Array.isArray(answer?.columns) ? answer.columns : null;
  if (!columns || !Array.isArray(answer.rows)) {
    return h("pre", { class: "log" }, JSON.stringify(answer, null, 2));
  }
  const errors = Array.isArray(answer.errors) ? answer.errors : [];
  return h("div", {},
    table("Preview rows", columns, answer.rows.map((r) => r.map(text))),
    errors.length ? table("Preview errors", ["file_name", "row", "reason"],
      errors.map((e) => [text(e.file_name), e.row === null || e.row === undefined
        ? "whole file" : text(e.row), text(e.reason)])) : null);
}
