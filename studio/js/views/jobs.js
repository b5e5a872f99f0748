// Jobs: lists (all, per endpoint, per deployment, by state; paged) and the job page with live
// progress, a chart of it, timings, errors, the log, downloads, cancel and retry.

import { all, call, enc, get, nextPage, offers, page } from "../api.js";
import {
  badge, busy, crumbs, duration, field, go, h, link, notice, parseCsv, saveBlob, svg, table,
  title, when,
} from "../ui.js";

export const STATES = ["NotStarted", "Queued", "Preparing", "Running", "Finalizing",
  "Completed", "Failed", "CancelRequested", "Canceled"];
const TERMINAL = new Set(["Completed", "Failed", "Canceled"]);
const PAGE_SIZE = 20;
const POLL_MS = 1000;
const MAX_ERROR_ROWS = 500;

const seconds = (from, to) => (from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : null);

export async function list(ctx, endpoint) {
  const { deployment = "", status = "" } = ctx.query;
  // ?deployment= rather than …/deployments/{d}/jobs: jobs outlive a deleted deployment
  const path = endpoint ? `/endpoints/${enc(endpoint)}/jobs` : "/jobs";
  const deployments = endpoint ? await all(`/endpoints/${enc(endpoint)}/deployments`) : [];
  const first = page(await get(path, { query: { status, deployment } }));
  const pager = { items: first.items, next: first.next, index: 0 };
  const slot = h("div");
  const draw = () => slot.replaceChildren(jobsTable(pager, draw, !endpoint));
  draw();
  const here = endpoint ? `#/endpoints/${enc(endpoint)}/jobs` : "#/jobs";
  const filters = filterForm(here, deployments, deployment, status, !!endpoint);
  const heading = endpoint ? `Jobs of ${endpoint}${deployment ? ` / ${deployment}` : ""}`
    : "All jobs";
  return h("section", {},
    endpoint ? crumbs(["#/endpoints", "Batch endpoints"], [`#/endpoints/${enc(endpoint)}`,
      endpoint], [null, "Jobs"]) : null,
    title(heading), filters, slot);
}

function filterForm(here, deployments, deployment, status, byDeployment) {
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
    go(`${here}${q.toString() ? `?${q}` : ""}`);
  } },
  dep ? field("Deployment", dep) : null, field("State", state),
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
    `${j.progress?.items?.succeeded ?? 0} ok · ${j.progress?.items?.failed ?? 0} failed`,
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

// Mini-batches done over time, as an SVG line (samples taken while this page is open; a job
// that had ended before is drawn from its start and end times).
function chart(job, samples) {
  const W = 520, H = 150, L = 40, B = 24, T = 8, R = 10;
  const total = job.progress?.mini_batches?.total || Math.max(1, ...samples.map((s) => s.mb));
  let points = samples;
  if (samples.length < 2 && job.started_at && job.ended_at) {
    points = [{ t: Date.parse(job.started_at), mb: 0 },
      { t: Date.parse(job.ended_at), mb: samples[0]?.mb ?? total }];
  }
  const t0 = points[0]?.t ?? 0;
  const span = Math.max(1000, (points[points.length - 1]?.t ?? 0) - t0);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - v / total) * (H - T - B);
  const done = points[points.length - 1]?.mb ?? 0;
  return svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": `Progress over time: ${done} of ${total} mini-batches done` },
  svg("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "axis" }),
  svg("line", { x1: L, y1: T, x2: L, y2: y(0), class: "axis" }),
  svg("text", { x: L - 6, y: y(total) + 4, "text-anchor": "end" }, String(total)),
  svg("text", { x: L - 6, y: y(0), "text-anchor": "end" }, "0"),
  svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, duration(span / 1000)),
  svg("text", { x: L, y: H - 6 }, "mini-batches done over time"),
  svg("polyline", { class: "line", points: points.map((p) => `${x(p.t)},${y(p.mb)}`).join(" ") }));
}

export async function show(ctx, name) {
  let job = await get(`/jobs/${enc(name)}`);
  const samples = [];
  const out = h("div");
  const parts = {
    status: h("span", { "aria-live": "polite" }), facts: h("dl", { class: "facts" }), bar: h("progress", { max: "1",
      value: "0", "aria-labelledby": "progress-label" }),
    label: h("span", { id: "progress-label" }), counts: h("dl", { class: "facts counts" }),
    chart: h("div"), actions: h("div", { class: "actions" }),
    errors: h("div", {}, h("p", { class: "muted" }, "Shown when the job ends.")),
    log: h("pre", { class: "log", tabindex: "0", "aria-label": "Job log" }), error: h("div"),
  };
  const canRetry = offers("POST", "/jobs/studio-probe-no-such-job/retry");
  let ended = false;

  const update = async () => {
    const p = job.progress || {};
    const mb = p.mini_batches || {};
    const mbDone = (mb.succeeded ?? 0) + (mb.failed ?? 0) + (mb.canceled ?? 0);
    const items = (p.items?.succeeded ?? 0) + (p.items?.failed ?? 0);
    samples.push({ t: Date.now(), mb: mbDone, items });
    const { rateText, etaText } = rateAndEta(job, samples);
    parts.status.replaceChildren(badge(job.status));
    parts.bar.max = String(mb.total || Math.max(1, mb.planned || 1));
    parts.bar.value = String(mbDone);
    parts.label.textContent = mb.total === null || mb.total === undefined
      ? `${mbDone} mini-batches done (still listing the input)`
      : `${mbDone} of ${mb.total} mini-batches done`;
    parts.counts.replaceChildren(
      ...pair("Mini-batches", `${mb.succeeded ?? 0} succeeded · ${mb.failed ?? 0} failed · ` +
        `${mb.canceled ?? 0} canceled · ${mb.pending ?? 0} pending · total ${mb.total ?? "?"}`),
      ...pair("Items", h("span", { id: "items" }, `${p.items?.succeeded ?? 0} succeeded · `,
        h("span", { class: p.items?.failed ? "bad" : "" }, `${p.items?.failed ?? 0} failed`))),
      ...pair("Input files", p.files ?? "—"),
      ...pair("Rate", rateText), ...pair("ETA", etaText));
    parts.chart.replaceChildren(chart(job, samples));
    parts.facts.replaceChildren(
      ...pair("Endpoint", link(`#/endpoints/${enc(job.endpoint_name)}`, job.endpoint_name)),
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
    parts.error.replaceChildren(job.error?.message
      ? h("div", { class: "notice error", role: "alert" }, `The job failed: ${job.error.message}`)
      : "");
    parts.log.textContent = await get(`/jobs/${enc(name)}/logs`, { as: "text" }).catch(
      (e) => e.message);
    const terminal = TERMINAL.has(job.status);
    parts.actions.replaceChildren(...actions(job, terminal, await canRetry, out)
      .filter(Boolean));
    if (terminal && !ended) {
      ended = true;
      parts.errors.replaceChildren(await errorsTable(name));
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
    h("h2", {}, "Errors"), parts.errors,
    h("h2", {}, "Log"), parts.log);
}

const pair = (k, v) => [h("dt", {}, k), h("dd", {}, v)];

function actions(job, terminal, canRetry, out) {
  const failed = (job.progress?.items?.failed ?? 0) + (job.progress?.mini_batches?.failed ?? 0);
  const download = (output, label, fallback) => h("button", { type: "button",
    disabled: !terminal, onclick: (ev) => busy(ev.target,
      get(`/jobs/${enc(job.name)}/outputs/${output}`, { as: "blob" })
        .then((file) => saveBlob(file, fallback)).catch((e) => notice(out, e.message))),
  }, label);
  return [
    download("score", "Download predictions", job.settings?.output_file_name || "predictions.csv"),
    download("errors", "Download errors", "errors.csv"),
    download("summary", "Download summary", "job_summary.json"),
    terminal ? null : h("button", { type: "button", class: "danger", onclick: (ev) =>
      busy(ev.target, call("POST", `/jobs/${enc(job.name)}/cancel`))
        .then(() => notice(out, "Cancel requested.", "ok")).catch((e) => notice(out, e.message)),
    }, "Cancel job"),
    terminal && failed && canRetry ? h("button", { type: "button", onclick: (ev) =>
      busy(ev.target, call("POST", `/jobs/${enc(job.name)}/retry`, { json: {} }))
        .then((j) => go(`#/jobs/${enc(j.name)}`)).catch((e) => notice(out, e.message)),
    }, "Retry failed items") : null,
    terminal ? null : h("span", { class: "muted" }, "Downloads open when the job ends."),
  ];
}

async function errorsTable(name) {
  let text;
  try {
    text = await get(`/jobs/${enc(name)}/errors`, { as: "text" });
  } catch (e) {
    return h("p", { class: "muted" }, e.message);
  }
  const [header, ...rows] = parseCsv(text || "").filter((r) => r.some((c) => c));
  if (!header || !rows.length) return h("p", { class: "empty" }, "No failed items.");
  return h("div", {},
    rows.length > MAX_ERROR_ROWS ? h("p", {}, `The first ${MAX_ERROR_ROWS} of ${rows.length} ` +
      "failed items; download the errors file for all.") : null,
    table("Failed items", header, rows.slice(0, MAX_ERROR_ROWS)));
}
