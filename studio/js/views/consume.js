// An endpoint's tabs (Details, Jobs, Consume) and the Consume tab: how to start a job on it
// from a shell (REST), the bep CLI and Python, with the endpoint's real URL. The key is never
// written into the page: the snippets read it from $KEY / BEP_KEY, and say where it is.

import { apiBase, enc, get } from "../api.js";
import { crumbs, h, link, title } from "../ui.js";

const TABS = [["", "Details"], ["/jobs", "Jobs"], ["/consume", "Consume"]];

export function endpointTabs(name, current) {
  return h("nav", { class: "tabs links", "aria-label": `Endpoint ${name}` },
    TABS.map(([suffix, label]) => link(`#/endpoints/${enc(name)}${suffix}`, label, {
      class: "button", "aria-current": label === current ? "page" : null })));
}

const KEY_FROM = "KEY=$(python3 -c 'import json; print(json.load(open(\".devhost/keys.json\"))" +
  "[\"functionKeys\"][\"default\"])')   # a local host's key; in Azure: " +
  "az functionapp keys list -g <group> -n <app>";

function snippets(endpoint, input) {
  const aad = endpoint.auth_mode === "aad_token";
  const body = JSON.stringify({ inputs: { input_data: { type: "uri_folder", path: input } } });
  const auth = aad
    ? '-H "Authorization: Bearer $(az account get-access-token --resource https://ml.azure.com ' +
      '--query accessToken -o tsv)"'
    : '-H "x-functions-key: $KEY"';
  return [
    ["REST", "curl", [
      aad ? "# an Entra ID token (the endpoint's auth_mode is aad_token)" : KEY_FROM,
      `curl -sS -X POST "${endpoint.scoring_uri}" \\`,
      `  ${auth} \\`,
      "  -H 'content-type: application/json' \\",
      `  -d '${body}'`,
      "# 202 Accepted: the job, and its URL in the Location header",
    ]],
    ["CLI", "bep", [
      KEY_FROM,
      `bep --url ${apiBase} --key "$KEY"${aad ? " --auth aad" : ""} \\`,
      `  batch-endpoint invoke --name ${endpoint.name} \\`,
      `  --input ${input} --stream`,
    ]],
    ["Python", "python", [
      "import os",
      "from client import BatchClient",
      "",
      `ml = BatchClient("${apiBase}", os.environ["KEY"])` +
        (aad ? "  # or a TokenCredential for aad_token" : ""),
      `job = ml.batch_endpoints.invoke("${endpoint.name}",`,
      `                                input="${input}")`,
      "ml.jobs.stream(job.name)",
      'ml.jobs.download(job.name, output_name="score", download_path=".")',
    ]],
  ];
}

export async function view(ctx, name) {
  const endpoint = await get(`/endpoints/${enc(name)}`);
  const input = "azureml://datastores/workspaceblobstore/paths/<folder>";
  const copied = h("p", { class: "muted", "aria-live": "polite" });
  return h("section", {},
    crumbs(["#/endpoints", "Batch endpoints"], [`#/endpoints/${enc(name)}`, name],
      [null, "Consume"]),
    title(`Consume ${name}`), endpointTabs(name, "Consume"),
    h("dl", { class: "facts" },
      h("dt", {}, "REST endpoint"), h("dd", {}, h("code", { id: "scoring-uri" },
        endpoint.scoring_uri)),
      h("dt", {}, "Authentication"), h("dd", {}, endpoint.auth_mode === "aad_token"
        ? "Entra ID token (aad_token)" : "function key (header x-functions-key)"),
      h("dt", {}, "Default deployment"), h("dd", {}, endpoint.defaults?.deployment_name ||
        h("span", { class: "muted" }, "none: name one with deployment_name"))),
    h("p", {}, "Start a job on a folder of a datastore (or a file: type uri_file). Replace ",
      h("code", {}, "<folder>"), "; the function key is the one in ",
      link("#/settings", "Settings"), "."),
    snippets(endpoint, input).map(([label, id, lines]) => h("div", { class: "card" },
      h("h2", { id: `consume-${id}` }, label),
      h("pre", { class: "log", tabindex: "0", "aria-labelledby": `consume-${id}`,
        "data-snippet": id }, lines.join("\n")),
      h("button", { type: "button", class: "small", onclick: () => {
        const text = lines.join("\n");
        (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject())
          .then(() => { copied.textContent = `${label} snippet copied.`; })
          .catch(() => { copied.textContent = "Select the text to copy it."; });
      } }, `Copy ${label}`))),
    copied);
}
