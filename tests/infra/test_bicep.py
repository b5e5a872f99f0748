"""Every .bicep parses (pycep: the syntax check there is, since no Bicep compiler is reachable
here), and the function app is set up the way Flex Consumption wants it.

The Flex checks read pycep's tree of infra/app/api.bicep: no site property from Microsoft's
"Flex Consumption plan deprecations" list, rolling updates, per-group scale settings.
"""

from __future__ import annotations

from tests.infra.project import INFRA, pycep_parse

# Site properties Flex Consumption deprecates (functions-app-settings.md, "Flex Consumption
# plan deprecations"), looked for in `properties` and `properties.siteConfig`.
FLEX_DEPRECATED = {"alwaysOn", "containerSize", "ftpsState", "isReserved", "IsXenon",
                   "javaVersion", "linuxFxVersion", "netFrameworkVersion", "powerShellVersion",
                   "functionAppScaleLimit", "preWarmedInstanceCount", "use32BitWorkerProcess",
                   "vnetBackupRestoreEnabled", "vnetContentShareEnabled",
                   "vnetImagePullEnabled", "vnetRouteAllEnabled", "windowsFxVersion"}


def test_every_bicep_file_parses(tmp_path):
    files = sorted(INFRA.rglob("*.bicep"))
    assert len(files) >= 10
    broken = tmp_path / "broken.bicep"
    broken.write_text("param x string\nresource r 'Microsoft.Web/sites@2024-04-01' = {\n"
                      "  name: x\n")  # the resource's closing brace is missing
    results = pycep_parse([*files, broken])
    assert "error" in results[str(broken)], "the check must be able to fail"
    failed = {name: r["error"] for name, r in results.items()
              if "error" in r and name != str(broken)}
    assert failed == {}


def _site() -> dict:
    tree = pycep_parse([INFRA / "app" / "api.bicep"])[str(INFRA / "app" / "api.bicep")]["ok"]
    return tree["resources"]["app"]["config"]["properties"]


def _keys(value) -> set[str]:
    return {k.lower() for k in value} if isinstance(value, dict) else set()


def test_the_app_uses_no_property_flex_consumption_deprecates():
    site = _site()
    deprecated = {p.lower() for p in FLEX_DEPRECATED}
    assert "minTlsVersion".lower() in _keys(site["siteConfig"])  # the scan sees siteConfig
    assert (_keys(site) | _keys(site["siteConfig"])) & deprecated == set()


def test_updates_roll_and_the_http_group_has_its_own_scale_settings():
    config = _site()["functionAppConfig"]
    assert config["siteUpdateStrategy"] == {"type": "RollingUpdate"}
    scale = config["scaleAndConcurrency"]
    assert scale["triggers"]["http"]["perInstanceConcurrency"] == "httpPerInstanceConcurrency"
    http = "{'name': 'http', 'instanceCount': 'httpAlwaysReadyInstances'}"
    assert http in str(scale["alwaysReady"])
    main = pycep_parse([INFRA / "main.bicep"])[str(INFRA / "main.bicep")]["ok"]
    decorators = main["parameters"]["maximumInstanceCount"]["decorators"]
    bounds = {d["type"]: d["argument"] for d in decorators
              if d["type"] in ("min_value", "max_value")}
    assert bounds == {"min_value": 40, "max_value": 1000}  # what Flex Consumption accepts
