// Create or edit a deployment, from a form or from its YAML (Azure ML's deployment.yml
// fields); either way it is sent as JSON.

import { all, call, createOnly, enc, get, onlyVersion } from "../api.js";
import { busy, crumbs, field, go, h, link, notice, saveBlob, title } from "../ui.js";
import { dump, load } from "../../vendor/js-yaml.mjs";

// What the service adds to a stored deployment and does not take back.
const READ_ONLY = ["endpoint_name", "type", "model_name", "model_version", "provisioning_state",
  "created_at", "updated_at", "id"];
const EXAMPLE_SCORING = {
  input: { type: "image", mode: "L", size: [8, 8], scale: 0.0625, layout: "flat" },
  output: { type: "classification", probabilities: true },
};

// The few scoring fields that tell deployments apart at a glance (the rest: Edit).
const SUMMARY_KEYS = ["mode", "layout", "format", "dtype", "probabilities"];

export function scoringSummary(scoring) {
  if (!scoring) return "—";
  const describe = (part) => {
    if (!part) return "?";
    const size = Array.isArray(part.size) ? [part.size.join("×")] : [];
    const extras = SUMMARY_KEYS.filter((k) => part[k] !== undefined && part[k] !== null &&
      typeof part[k] !== "object").map((k) => (part[k] === true ? k : `${k} ${part[k]}`));
    return [part.type, ...size, ...extras].join(", ");
  };
  return `${describe(scoring.input)} → ${describe(scoring.output)}`;
}

// A scoring-script deployment: its script and code version, and the code as a zip.
export function scriptSummary(code, out) {
  const [, name, version] = code.code.split(":");
  const download = h("button", { type: "button", class: "small",
    "aria-label": `Download the code of ${code.scoring_script}`,
    onclick: (ev) => busy(ev.target, get(`/codes/${enc(name)}/versions/${enc(version)}/content`,
      { as: "blob" }).then((file) => saveBlob(file, `${name}-${version}.zip`))
      .catch((e) => notice(out, e.message))) }, "Download code");
  return h("span", {}, `script ${code.scoring_script} (${code.code}) `, download);
}

export function settingsSummary(d) {
  const s = d.settings || {};
  const retry = s.retry_settings || {};
  return [
    `mini_batch_size ${s.mini_batch_size}`,
    `instances ${d.resources?.instance_count ?? 1} × ${s.max_concurrency_per_instance ?? 1}`,
    `${s.output_action}${s.output_action === "append_row" ? ` → ${s.output_file_name}` : ""}`,
    `error_threshold ${s.error_threshold}`,
    `retries ${retry.max_retries ?? "—"}, timeout ${retry.timeout ?? "—"} s`,
  ].join(" · ");
}

function editable(doc) {
  const out = { ...doc };
  for (const k of READ_ONLY) delete out[k];
  return out;
}

function blank(models) {
  return {
    name: "", description: "", model: models[0]?.id || "", scoring: EXAMPLE_SCORING,
    resources: { instance_count: 1 },
    settings: { max_concurrency_per_instance: 1, mini_batch_size: 10,
      output_action: "append_row", output_file_name: "predictions.csv", error_threshold: -1,
      retry_settings: { max_retries: 3, timeout: 30 }, logging_level: "info" },
  };
}

const num = (attrs = {}) => h("input", { type: "number", step: "1", ...attrs });

// The form: one input per field the service knows; scoring stays YAML (it nests).
function deploymentForm(isNew, models) {
  const f = {
    name: h("input", { name: "name", required: true, disabled: !isNew, autocomplete: "off" }),
    description: h("input", { name: "description" }),
    model: h("select", { name: "model", required: true },
      models.map((m) => h("option", { value: m.id }, m.id))),
    scoring: h("textarea", { name: "scoring", rows: "8", spellcheck: "false", class: "code" }),
    instance_count: num({ name: "instance_count", min: "1" }),
    max_concurrency_per_instance: num({ name: "max_concurrency_per_instance", min: "1" }),
    mini_batch_size: num({ name: "mini_batch_size", min: "1" }),
    output_action: h("select", { name: "output_action" },
      h("option", { value: "append_row" }, "append_row"),
      h("option", { value: "summary_only" }, "summary_only")),
    output_file_name: h("input", { name: "output_file_name" }),
    error_threshold: num({ name: "error_threshold", min: "-1" }),
    max_retries: num({ name: "max_retries", min: "0" }),
    timeout: num({ name: "timeout", min: "1" }),
    logging_level: h("select", { name: "logging_level" },
      ["warning", "info", "debug"].map((l) => h("option", { value: l }, l))),
  };
  const node = h("div", { class: "form-grid" },
    field("Name", f.name, "3–32 letters, digits or '-', starting with a letter."),
    field("Description", f.description),
    field("Model", f.model, "Registered ONNX models (Models page)."),
    field("Instance count", f.instance_count),
    field("Max concurrency per instance", f.max_concurrency_per_instance),
    field("Mini-batch size", f.mini_batch_size, "Files per mini-batch (rows for tabular)."),
    field("Output action", f.output_action),
    field("Output file name", f.output_file_name),
    field("Error threshold", f.error_threshold, "-1: never fail the job for failed items."),
    field("Max retries", f.max_retries),
    field("Timeout (s)", f.timeout, "Per mini-batch attempt."),
    field("Logging level", f.logging_level),
    h("div", { class: "wide" }, field("Scoring (YAML)", f.scoring,
      "How files become tensors and outputs become rows: see docs/scoring.md.")));
  const fill = (doc) => {
    const s = doc.settings || {};
    const r = s.retry_settings || {};
    f.name.value = doc.name || "";
    f.description.value = doc.description || "";
    if (doc.model && ![...f.model.options].some((o) => o.value === doc.model)) {
      f.model.append(h("option", { value: doc.model }, doc.model));
    }
    f.model.value = doc.model || "";
    f.scoring.value = doc.scoring ? dump(doc.scoring, { flowLevel: 2 }) : "";
    f.instance_count.value = doc.resources?.instance_count ?? 1;
    for (const k of ["max_concurrency_per_instance", "mini_batch_size", "output_action",
      "output_file_name", "error_threshold", "logging_level"]) f[k].value = s[k] ?? "";
    f.max_retries.value = r.max_retries ?? "";
    f.timeout.value = r.timeout ?? "";
  };
  const read = (base) => {
    const int = (el) => (el.value === "" ? undefined : Number(el.value));
    const settings = { ...(base.settings || {}) };
    for (const k of ["max_concurrency_per_instance", "mini_batch_size", "error_threshold"]) {
      settings[k] = int(f[k]);
    }
    for (const k of ["output_action", "output_file_name", "logging_level"]) settings[k] = f[k].value;
    settings.retry_settings = { ...(settings.retry_settings || {}),
      max_retries: int(f.max_retries), timeout: int(f.timeout) };
    let scoring;
    try {
      scoring = f.scoring.value.trim() ? load(f.scoring.value) : undefined;
    } catch (e) {
      throw new Error(`Scoring is not valid YAML: ${e.message}`);
    }
    return { ...base, name: f.name.value.trim(), description: f.description.value,
      model: f.model.value, scoring, resources: { instance_count: int(f.instance_count) },
      settings };
  };
  return { node, fill, read };
}

export async function edit(ctx, endpoint, name) {
  const isNew = !name;
  const [models, existing] = await Promise.all([all("/models"), isNew ? null
    : call("GET", `/endpoints/${enc(endpoint)}/deployments/${enc(name)}`, { as: "versioned" })]);
  let doc = isNew ? blank(models) : editable(existing.doc);
  const form = deploymentForm(isNew, models);
  const yaml = h("textarea", { name: "yaml", rows: "24", spellcheck: "false", class: "code" });
  const yamlField = field("deployment.yml", yaml, "Azure ML's batch deployment fields; " +
    "sent as JSON.");
  const out = h("div");
  let mode = "form";
  const current = () => {
    if (mode === "form") return form.read(doc);
    try {
      const parsed = load(yaml.value);
      if (!parsed || typeof parsed !== "object") throw new Error("it is not a mapping");
      return parsed;
    } catch (e) {
      throw new Error(`The YAML is not valid: ${e.message}`);
    }
  };
  const formTab = h("button", { type: "button", "aria-pressed": "true" }, "Form");
  const yamlTab = h("button", { type: "button", "aria-pressed": "false" }, "YAML");
  const body = h("div", {}, form.node);
  const show = (next) => {
    try {
      doc = current();
    } catch (e) {
      notice(out, e.message);
      return;
    }
    mode = next;
    out.replaceChildren();
    formTab.setAttribute("aria-pressed", String(mode === "form"));
    yamlTab.setAttribute("aria-pressed", String(mode === "yaml"));
    if (mode === "form") form.fill(doc); else yaml.value = dump(doc, { flowLevel: 3 });
    body.replaceChildren(mode === "form" ? form.node : yamlField);
  };
  formTab.addEventListener("click", () => show("form"));
  yamlTab.addEventListener("click", () => show("yaml"));
  form.fill(doc);
  const submit = h("button", { type: "submit", class: "primary" },
    isNew ? "Create deployment" : "Save deployment");
  const onsubmit = (ev) => {
    ev.preventDefault();
    let payload;
    try {
      payload = current();
    } catch (e) {
      notice(out, e.message);
      return;
    }
    const target = isNew ? payload.name : name;
    if (!target) {
      notice(out, "name: is required");
      return;
    }
    // Create only, or replace only the version this page read: never an overwrite by accident.
    const headers = isNew ? createOnly : onlyVersion(existing.etag);
    busy(submit, call("PUT", `/endpoints/${enc(endpoint)}/deployments/${enc(target)}`,
      { json: payload, headers }).then(() => go(`#/endpoints/${enc(endpoint)}`))
      .catch((e) => notice(out, e.status !== 412 ? e.message : isNew ? [
        `A deployment named ${target} exists already under ${endpoint}; nothing was changed. `,
        link(`#/endpoints/${enc(endpoint)}/deployments/${enc(target)}/edit`,
          `Edit ${target}`), " or choose another name."]
        : "This deployment was changed (or deleted) since the page was loaded; nothing was " +
          "saved. Reload the page to see the change, then edit again.")));
  };
  return h("section", {},
    crumbs(["#/endpoints", "Batch endpoints"], [`#/endpoints/${enc(endpoint)}`, endpoint],
      [null, isNew ? "New deployment" : name]),
    title(isNew ? `New deployment of ${endpoint}` : `Edit deployment ${name}`),
    h("div", { class: "tabs", role: "group", "aria-label": "Edit as" }, formTab, yamlTab),
    h("form", { class: "card", onsubmit }, body, out,
      h("div", { class: "actions" }, submit,
        h("a", { class: "button", href: `#/endpoints/${enc(endpoint)}` }, "Cancel"))));
}
