// Jobs: lists (all, per endpoint, per deployment, by state; paged) and the job page with live
// progress, a chart of it, timings, errors, the log, downloads, cancel and retry.

import { all, call, enc, get, nextPage, offers, page } from "../api.js";
import { endpointTabs } from "./consume.js";
import {
  badge, busy, bytes, confirmDialog, crumbs, duration, field, go, h, link, notice, parseCsv,
  saveBlob, svg, table, title, when,
} from "../ui.js";

export const STATES = ["NotStarted", "Queued", "Preparing", "Running", "Finalizing",
  "Completed", "Failed", "CancelRequested", "Canceled"];
const TERMINAL = new Set(["Completed", "Failed", "Canceled"]);
const PAGE_SIZE = 20;
const POLL_MS = 1000;
const MAX_ERROR_ROWS = 500;
const PREVIEW_ROWS = 10;

const seconds = (from, to) => (from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : null);

export async function list(ctx, endpoint) {
  const { deployment = "", status = "", name = "" } = ctx.query;
  // ?deployment= rather than …/deployments/{d}/jobs: jobs outlive a deleted deployment
  const path = endpoint ? `/endpoints/${enc(endpoint)}/jobs` : "/jobs";
  const deployments = endpoint ? await all(`/endpoints/${enc(endpoint)}/deployments`) : [];
  const first = page(await get(path, { query: { status, deployment, name } }));  // newest first
  const pager = { items: first.items, next: first.next, index: 0 };
  const slot = h("div");
  const draw = () => slot.replaceChildren(jobsTable(pager, draw, !endpoint));
  draw();
  const here = endpoint ? `#/endpoints/${enc(endpoint)}/jobs` : "#/jobs";
  const filters = filterForm(here, deployments, deployment, status, name, !!endpoint);
  const heading = endpoint ? `Jobs of ${endpoint}${deployment ? ` / ${deployment}` : ""}`
    : "All jobs";
  return h("section", {},
    endpoint ? crumbs(["#/endpoints", "Batch endpoints"], [`#/endpoints/${enc(endpoint)}`,
      endpoint], [null, "Jobs"]) : null,
    title(heading), endpoint ? endpointTabs(endpoint, "Jobs") : null, filters, slot);
}

function filterForm(here, deployments, deployment, status, name, byDeployment) {
  const search = h("input", { name: "name", type: "search", value: name, maxlength: "63",
    placeholder: "part of a job name" });
  const state = h("select", { name: "status" }, h("option", { value: "" }, "any state"),
    STATES.map((s) => h("option", { value: s, selected: s === status }, s)));
  const dep = byDeployment ? h("select", { name: "deployment" },
    h("option", { value: "" }, "any deployment"),
    deployments.map((d) => h("option", { value: d.name, selected: d.name === deployment },
      d.name))) : null;
  return h("form", { class: "card inline", onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (dep && dep.value) q.set("deployment", dep.value);
    if (state.value) q.set("status", state.value);
    if (search.value.trim()) q.set("name", search.value.trim());
    go(`${here}${q.toString() ? `?${q}` : ""}`);
  } },
  dep ? field("Deployment", dep) : null, field("State", state), field("Name", search),
  h("button", { type: "submit" }, "Show"));
}

function jobsTable(pager, redraw, showEndpoint) {
  const start = pager.index * PAGE_SIZE;
  const shown = pager.items.slice(start, start + PAGE_SIZE);
  const rows = shown.map((j) => [
    link(`#/jobs/${enc(j.name)}`, j.name), badge(j.status),
    ...(showEndpoint ? [j.endpoint_name] : []), j.deployment_name,
    when(j.creation_context?.created_at),
    duration(seconds(j.started_at, j.ended_at)),
    `${j.progress?.items?.succeeded ?? 0} ok · ${j.progress?.items?.failed ?? 0} failed` +
      (j.progress?.items?.canceled ? ` · ${j.progress.items.canceled} canceled` : ""),
  ]);
  const hasMore = pager.items.length > start + PAGE_SIZE || !!pager.next;
  const prev = h("button", { type: "button", disabled: pager.index === 0, onclick: () => {
    pager.index -= 1;
    redraw();
  } }, "Previous page");
  const next = h("button", { type: "button", disabled: !hasMore, onclick: async () => {
    if (pager.items.length <= start + PAGE_SIZE && pager.next) {
      const more = await busy(next, nextPage(pager.next));
      pager.items.push(...more.items);
      pager.next = more.next;
    }
    pager.index += 1;
    redraw();
  } }, "Next page");
  return h("div", {},
    table("Jobs", ["Name", "State", ...(showEndpoint ? ["Endpoint"] : []), "Deployment",
      "Created", "Run time", "Items"], rows, "No jobs match."),
    h("div", { class: "pager" }, prev,
      h("span", {}, `Page ${pager.index + 1}${shown.length ? `: jobs ${start + 1}–${start + shown.length}` : ""}`),
      next));
}

// Rate and ETA: the service's own figures when it sends them, else measured here.
function rateAndEta(job, samples) {
  const p = job.progress || {};
  const items = (p.items?.succeeded ?? 0) + (p.items?.failed ?? 0);
  const mb = p.mini_batches || {};
  const mbDone = (mb.succeeded ?? 0) + (mb.failed ?? 0) + (mb.canceled ?? 0);
  let rate = null, mbRate = null;
  const recent = samples.filter((s) => s.t >= samples[samples.length - 1].t - 30000);
  if (TERMINAL.has(job.status)) {
    const s = seconds(job.started_at, job.ended_at);
    if (s > 0) rate = items / s;
  } else if (recent.length > 1 && recent[recent.length - 1].t > recent[0].t) {
    const a = recent[0], b = recent[recent.length - 1];
    rate = ((b.items - a.items) * 1000) / (b.t - a.t);
    mbRate = ((b.mb - a.mb) * 1000) / (b.t - a.t);
  } else if (job.started_at) {
    const s = seconds(job.started_at, job.ended_at || new Date().toISOString());
    if (s > 0) { rate = items / s; mbRate = mbDone / s; }
  }
  let rateText = rate === null ? "—" : `${rate.toFixed(1)} items/s`;
  if (typeof job.throughput === "number") rateText = `${job.throughput.toFixed(1)} items/s`;
  else if (job.throughput && typeof job.throughput === "object") {
    rateText = Object.entries(job.throughput).filter(([, v]) => typeof v === "number")
      .map(([k, v]) => `${v.toFixed(1)} ${k.replace(/_/g, " ")}`).join(", ") || rateText;
  }
  let etaText = "—";
  if (TERMINAL.has(job.status)) etaText = "done";
  else if (job.eta !== undefined && job.eta !== null) {
    const at = typeof job.eta === "string" ? Date.parse(job.eta) : NaN;
    etaText = typeof job.eta === "number" ? duration(job.eta)
      : Number.isNaN(at) ? String(job.eta) : duration(Math.max(0, (at - Date.now()) / 1000));
  } else if (mb.total && mbRate > 0) {
    etaText = duration((mb.total - mbDone) / mbRate);
  }
  return { rateText, etaText };
}

// Mini-batches over time, as SVG lines: those that ran (succeeded or failed) and, apart,
// those canceled. The points are the job's own timeline (the finish times of its
// mini-batches, from the service), so a job that ended before the page opened is drawn as it
// ran; while it runs, the page's own samples extend it.
function chart(job, points) {
  const W = 520, H = 150, L = 40, B = 24, T = 8, R = 10;
  const ran = (p) => p.succeeded + p.failed;
  const total = job.progress?.mini_batches?.total ||
    Math.max(1, ...points.map((p) => ran(p) + p.canceled));
  const t0 = points[0]?.t ?? 0;
  const span = Math.max(1000, (points[points.length - 1]?.t ?? 0) - t0);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - v / total) * (H - T - B);
  const last = points[points.length - 1] || { succeeded: 0, failed: 0, canceled: 0 };
  const line = (cls, value) => svg("polyline", { class: cls,
    points: points.map((p) => `${x(p.t)},${y(value(p))}`).join(" ") });
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": `Progress over time: ${ran(last)} of ${total} mini-batches ran` +
      (last.canceled ? `, ${last.canceled} canceled` : "") },
  svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "axis" }),
  svg("line", { x1: L, y1: T, x2: L, y2: y(0), class: "axis" }),
  svg("text", { x: L - 6, y: y(total) + 4, "text-anchor": "end" }, String(total)),
  svg("text", { x: L - 6, y: y(0), "text-anchor": "end" }, "0"),
  svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, duration(span / 1000)),
  svg("text", { x: L, y: H - 6 }, last.canceled ? "mini-batches run (canceled: dashed)"
    : "mini-batches done over time"),
  line("line", ran),
  last.canceled ? line("line canceled", (p) => p.canceled) : null);
}

// The service's timeline as chart points ({t, succeeded, failed, canceled}).
async function timelinePoints(name) {
  try {
    const answer = await get(`/jobs/${enc(name)}/timeline`);
    return (answer.points || []).map((p) => ({ ...p, t: Date.parse(p.at) }));
  } catch {
    return [];
  }
}

// What the job's endpoint is now: the one that ran it, gone, or a new one of that name.
async function endpointOf(job) {
  try {
    const now = await get(`/endpoints/${enc(job.endpoint_name)}`);
    return (now.incarnation || "") === (job.endpoint_incarnation || "") ? "same" : "recreated";
  } catch (e) {
    return e.status === 404 ? "deleted" : "same";
  }
}

export async function show(ctx, name) {
  let job = await get(`/jobs/${enc(name)}`);
  let [timeline, endpointState] = await Promise.all([timelinePoints(name), endpointOf(job)]);
  const samples = [];
  const out = h("div");
  const parts = {
    status: h("span", { "aria-live": "polite" }), facts: h("dl", { class: "facts" }), bar: h("progress", { max: "1",
      value: "0", "aria-labelledby": "progress-label" }),
    label: h("span", { id: "progress-label" }), counts: h("dl", { class: "facts counts" }),
    chart: h("div"), actions: h("div", { class: "actions" }),
    errors: h("div", {}, h("p", { class: "muted" }, "Shown when the job ends.")),
    outputs: h("div", { id: "outputs" }, h("p", { class: "muted" }, "Shown when the job ends.")),
    log: h("pre", { class: "log", tabindex: "0", "aria-label": "Job log" }), error: h("div"),
  };
  const canRetry = offers("POST", "/jobs/studio-probe-no-such-job/retry");
  let ended = false;

  const update = async () => {
    const p = job.progress || {};
    const mb = p.mini_batches || {};
    const mbDone = (mb.succeeded ?? 0) + (mb.failed ?? 0) + (mb.canceled ?? 0);
    const ran = (mb.succeeded ?? 0) + (mb.failed ?? 0);
    const items = (p.items?.succeeded ?? 0) + (p.items?.failed ?? 0);
    const terminal = TERMINAL.has(job.status);
    // a job that ended while shown: its whole timeline now
    if (terminal && !ended && samples.length) timeline = await timelinePoints(name);
    const now = { t: Date.now(), succeeded: mb.succeeded ?? 0, failed: mb.failed ?? 0,
      canceled: mb.canceled ?? 0 };
    if (!terminal) samples.push({ ...now, mb: mbDone, items });
    const { rateText, etaText } = rateAndEta(job, samples.length ? samples
      : [{ t: now.t, mb: mbDone, items }]);
    parts.status.replaceChildren(badge(job.status));
    parts.bar.max = String(mb.total || Math.max(1, mb.planned || 1));
    parts.bar.value = String(ran);
    const canceledNote = mb.canceled ? ` · ${mb.canceled} canceled` : "";
    parts.label.textContent = mb.total === null || mb.total === undefined
      ? `${ran} mini-batches done${canceledNote} (still listing the input)`
      : `${ran} of ${mb.total} mini-batches ran${canceledNote}`;
    parts.counts.replaceChildren(
      ...pair("Mini-batches", `${mb.succeeded ?? 0} succeeded · ${mb.failed ?? 0} failed · ` +
        `${mb.canceled ?? 0} canceled · ${mb.pending ?? 0} pending · total ${mb.total ?? "?"}`),
      ...pair("Items", h("span", { id: "items" }, `${p.items?.succeeded ?? 0} succeeded · `,
        h("span", { class: p.items?.failed ? "bad" : "" }, `${p.items?.failed ?? 0} failed`),
        " · ", h("span", { class: p.items?.canceled ? "warn" : "" },
          `${p.items?.canceled ?? 0} canceled`))),
      ...pair("Input files", p.files ?? "—"),
      ...pair("Rate", rateText), ...pair("ETA", etaText));
    const live = terminal ? [] : samples.filter((s) => s.t > (timeline.at(-1)?.t ?? 0));
    let points = [...timeline, ...live];
    if (points.length < 2 && job.started_at) {  // nothing finished yet, or no timeline
      points = [{ t: Date.parse(job.started_at), succeeded: 0, failed: 0, canceled: 0 },
        { ...now, t: job.ended_at ? Date.parse(job.ended_at) : now.t }];
    }
    parts.chart.replaceChildren(chart(job, points));
    const endpointFact = endpointState === "same"
      ? link(`#/endpoints/${enc(job.endpoint_name)}`, job.endpoint_name)
      : h("span", { id: "endpoint-gone" }, `${job.endpoint_name} `, h("span", { class: "muted" },
        endpointState === "deleted" ? "(deleted)"
          : "(deleted; a new endpoint has this name now, without this job)"));
    parts.facts.replaceChildren(
      ...pair("Endpoint", endpointFact),
      ...pair("Deployment", job.deployment_name), ...pair("Model", job.model),
      ...pair("Started by", job.started_by || "—"),
      ...pair("Input", h("code", {}, job.inputs?.input_data?.path || "—")),
      ...pair("Output", h("code", {}, job.outputs?.score?.path || "—")),
      ...pair("Created", when(job.creation_context?.created_at)),
      ...pair("Started", when(job.started_at)), ...pair("Ended", when(job.ended_at)),
      ...pair("Waited", duration(seconds(job.creation_context?.created_at, job.started_at))),
      ...pair("Ran", duration(seconds(job.started_at, job.ended_at))),
      ...pair("Settings", Object.entries(job.settings || {})
        .filter(([, v]) => typeof v !== "object").map(([k, v]) => `${k} ${v}`).join(" · ")));
    parts.error.replaceChildren(banner(job));
    parts.log.textContent = await get(`/jobs/${enc(name)}/logs`, { as: "text" }).catch(
      (e) => e.message);
    parts.actions.replaceChildren(...actions(job, terminal,
      (await canRetry) && endpointState === "same", out).filter(Boolean));
    if (terminal && !ended) {
      ended = true;
      parts.errors.replaceChildren(await errorsTable(name));
      parts.outputs.replaceChildren(await outputsBrowser(job, out));
    }
  };
  await update();
  (async () => {
    while (ctx.alive() && !TERMINAL.has(job.status)) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (!ctx.alive()) return;
      try {
        job = await get(`/jobs/${enc(name)}`);
        await update();
        out.replaceChildren();
      } catch (e) {
        notice(out, `${e.message} (retrying)`);
      }
    }
  })();
  return h("section", {},
    crumbs(["#/jobs", "Jobs"], [null, name]),
    h("div", { class: "title-row" }, title(`Job ${name}`), parts.status),
    parts.error, out, parts.actions,
    h("h2", {}, "Progress"),
    h("div", { class: "progress" }, parts.label, parts.bar), parts.counts, parts.chart,
    h("h2", {}, "Details"), parts.facts,
    h("h2", {}, "Outputs"), parts.outputs,
    h("h2", {}, "Errors"), parts.errors,
    h("h2", {}, "Log"), parts.log);
}

const pair = (k, v) => [h("dt", {}, k), h("dd", {}, v)];

// A canceled job is not a failed one: it says what ran, what was canceled and what is kept.
function banner(job) {
  const p = job.progress || {};
  const mb = p.mini_batches || {};
  if (job.status === "Canceled" || job.status === "CancelRequested") {
    const ran = (mb.succeeded ?? 0) + (mb.failed ?? 0);
    const done = job.status === "Canceled";
    return h("div", { class: "notice warn", role: "status", id: "cancel-banner" },
      `${done ? "The job was canceled" : "Cancel requested"}` +
      `${job.error?.message ? ` (${job.error.message})` : ""}: ${ran} of ` +
      `${mb.total ?? "?"} mini-batches ran, ${mb.canceled ?? 0} were canceled ` +
      `(${p.items?.canceled ?? 0} items not scored). ` +
      (done ? "The outputs hold the items that ran; the errors file lists the canceled " +
        "ones, and retry scores them." : "Mini-batches already running finish first."));
  }
  return job.error?.message
    ? h("div", { class: "notice error", role: "alert" }, `The job failed: ${job.error.message}`)
    : "";
}

function actions(job, terminal, canRetry, out) {
  const p = job.progress || {};
  const failed = (p.items?.failed ?? 0) + (p.mini_batches?.failed ?? 0) +
    (p.items?.canceled ?? 0) + (p.mini_batches?.canceled ?? 0);
  const download = (output, label, fallback) => h("button", { type: "button",
    disabled: !terminal, onclick: (ev) => busy(ev.target,
      get(`/jobs/${enc(job.name)}/outputs/${output}`, { as: "blob" })
        .then((file) => saveBlob(file, fallback)).catch((e) => notice(out, e.message))),
  }, label);
  return [
    download("score", "Download predictions", job.settings?.output_file_name || "predictions.csv"),
    download("errors", "Download errors", "errors.csv"),
    download("summary", "Download summary", "job_summary.json"),
    terminal ? null : h("button", { type: "button", class: "danger", onclick: async (ev) => {
      const button = ev.target;
      const ok = await confirmDialog(`Cancel job ${job.name}?`, [
        "No new mini-batches start; those running finish and their results are kept.",
        "The items not scored are listed as canceled in the errors file; retry can score " +
        "them later."], "Cancel job");
      if (!ok) return;
      busy(button, call("POST", `/jobs/${enc(job.name)}/cancel`))
        .then(() => notice(out, "Cancel requested.", "ok")).catch((e) => notice(out, e.message));
    } }, "Cancel job"),
    terminal && failed && canRetry && !job.retried_by ? h("button", { type: "button",
      onclick: (ev) => busy(ev.target, call("POST", `/jobs/${enc(job.name)}/retry`, { json: {} }))
        .then((j) => go(`#/jobs/${enc(j.name)}`)).catch((e) => notice(out, e.message)),
    }, "Retry canceled and failed items") : null,
    job.retried_by ? link(`#/jobs/${enc(job.retried_by)}`, `Retried by ${job.retried_by}`)
      : null,
    terminal ? null : h("span", { class: "muted" }, "Downloads open when the job ends."),
  ];
}

// The files the job wrote, each downloadable, and the first prediction rows inline (one
// ranged read on the service's side, whatever the file's size).
async function outputsBrowser(job, out) {
  let files;
  try {
    files = (await get(`/jobs/${enc(job.name)}/outputs`)).value || [];
  } catch (e) {
    return h("p", { class: "muted" }, e.message);
  }
  if (!files.length) return h("p", { class: "empty" }, "The job wrote no outputs.");
  const rows = files.map((f) => [f.name, f.file, bytes(f.size), h("code", {}, f.path),
    h("button", { type: "button", class: "small", "aria-label": `Download ${f.file}`,
      onclick: (ev) => busy(ev.target, get(`/jobs/${enc(job.name)}/outputs/${f.name}`,
        { as: "blob" })).then((file) => saveBlob(file, f.file))
        .catch((e) => notice(out, e.message)) }, "Download")]);
  const preview = h("div", { id: "score-preview" });
  if (files.some((f) => f.name === "score")) {
    try {
      const first = await get(`/jobs/${enc(job.name)}/outputs/score/preview`,
        { query: { rows: String(PREVIEW_ROWS) } });
      preview.append(h("h3", {}, `First rows of ${files.find((f) => f.name === "score").file}`),
        h("div", { class: "scroll" }, table("First prediction rows", first.columns,
          first.rows.map((r) => r.map((v) => (typeof v === "string" ? v : JSON.stringify(v)))))),
        first.truncated ? h("p", { class: "muted" }, `The first ${first.rows.length} rows; ` +
          "download the file for all.") : null);
    } catch (e) {
      preview.append(h("p", { class: "muted" }, e.message));
    }
  }
  return h("div", {}, table("Outputs", ["Output", "File", "Size", "Path", ""], rows), preview);
}

async function errorsTable(name) {
  let text;
  try {
    text = await get(`/jobs/${enc(name)}/errors`, { as: "text" });
  } catch (e) {
    return h("p", { class: "muted" }, e.message);
  }
  const [header, ...all] = parseCsv(text || "").filter((r) => r.some((c) => c));
  if (!header || !all.length) return h("p", { class: "empty" }, "No failed items.");
  const reason = header.indexOf("reason");
  const rows = all.filter((r) => r[reason] !== "canceled");
  const canceled = all.length - rows.length;
  return h("div", {},
    canceled ? h("p", { id: "canceled-items" }, `${canceled} items were canceled before they ` +
      "ran (listed in the errors file with the reason canceled).") : null,
    rows.length > MAX_ERROR_ROWS ? h("p", {}, `The first ${MAX_ERROR_ROWS} of ${rows.length} ` +
      "failed items; download the errors file for all.") : null,
    rows.length ? table("Failed items", header, rows.slice(0, MAX_ERROR_ROWS))
      : h("p", { class: "empty" }, "No failed items."));
}
