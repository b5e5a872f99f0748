// Settings: the function key (and an Entra token for aad_token endpoints) this browser sends.

import { apiBase, credentials, describeCredentials, get } from "../api.js";
import { field, go, h, link, notice, title } from "../ui.js";

export async function view() {
  const key = h("input", { type: "password", name: "key", autocomplete: "off",
    value: credentials.key, spellcheck: "false" });
  const token = h("input", { type: "password", name: "token", autocomplete: "off",
    value: credentials.token, spellcheck: "false" });
  const remember = h("input", { type: "checkbox", name: "remember" });
  remember.checked = credentials.remembered;
  const out = h("div");
  const form = h("form", { class: "card narrow", onsubmit: async (ev) => {
    ev.preventDefault();
    credentials.save({ key: key.value.trim(), token: token.value.trim(),
      remember: remember.checked });
    try {
      await get("/endpoints");
      if (!/^#\/settings/.test(window.location.hash)) {
        go();  // the page asked for before the key was there
        return;
      }
      notice(out, h("span", {}, "Saved: the service accepted them. ",
        link("#/endpoints", "Open the endpoints")), "ok");
      document.getElementById("who").textContent = describeCredentials();
    } catch (e) {
      notice(out, e.message);
    }
  } },
  field("Function key", key, "Sent as the x-functions-key header. scripts/run prints it " +
    "(functionKeys.default in .devhost/keys.json); in Azure: the function app's App keys."),
  field("Entra token (optional)", token, "For endpoints with auth_mode aad_token: sent as " +
    "Authorization: Bearer. Get one with: az account get-access-token --resource https://ml.azure.com"),
  h("div", { class: "check" }, remember,
    h("label", { for: (remember.id = "remember") }, "Remember on this computer (otherwise " +
      "only until this tab closes)")),
  h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Save")));
  const welcome = credentials.key || credentials.token ? null : h("p", { class: "notice ok" },
    "Welcome to Studio. To start, enter the function key of this service below; then " +
    "create an endpoint, add a deployment and create a job from the menu on the left.");
  return h("section", {}, title("Settings"), welcome,
    h("p", {}, "Studio talks to the API at ", h("code", {}, apiBase),
      ". The key stays in this browser and goes only into request headers."),
    form, out);
}
