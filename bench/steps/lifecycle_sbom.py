"""Write the SBOM files of a lifecycle binary built from source (called by pack.sh).

The lifecycle's exporter copies `/cnb/lifecycle/<component>.sbom.{cdx,spdx,syft}.json`
(component `lifecycle` and `launcher`) into every image it exports, and warns
"Did not find SBOM ..." once per missing file. Official lifecycle releases ship the
files (made by syft in the lifecycle's own release build); a lifecycle built with
`go build` has none. This writes the three documents from what the binary itself
records: `go version -m` lists the main module and every module linked into it,
with versions and go.sum hashes (the same build information syft's Go binary
cataloger reads).

usage: lifecycle_sbom.py BINARY COMPONENT VERSION OUT_DIR
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import uuid
from typing import Dict, List, NamedTuple

TOOL = "blacklodge bench/steps/lifecycle_sbom.py (go version -m)"
MAIN_MODULE = "github.com/buildpacks/lifecycle"


class Module(NamedTuple):
    path: str
    version: str
    h1: str  # the go.sum hash, "" when the binary records none

    @property
    def purl(self) -> str:
        return f"pkg:golang/{self.path}@{self.version}"


def build_info(binary: str) -> tuple[str, str, List[Module]]:
    """(Go version, GOARCH, the modules linked into ``binary``, the standard library included)."""
    text = subprocess.run(["go", "version", "-m", binary], check=True, capture_output=True, text=True).stdout
    lines = text.splitlines()
    go_version = lines[0].rsplit(":", 1)[1].strip()  # "<binary>: go1.26.8"
    modules: Dict[str, Module] = {}
    arch = ""
    for line in lines[1:]:
        fields = line.strip().split("\t")
        if fields[0] == "build" and len(fields) >= 2 and fields[1].startswith("GOARCH="):
            arch = fields[1].partition("=")[2]
        elif fields[0] == "dep" and len(fields) >= 3:
            modules[fields[1]] = Module(fields[1], fields[2], fields[3] if len(fields) > 3 else "")
        elif fields[0] == "=>" and len(fields) >= 3 and modules:
            # A replace directive: the module actually linked is the replacement.
            last = list(modules)[-1]
            modules[last] = Module(fields[1], fields[2], fields[3] if len(fields) > 3 else "")
    if not modules:
        sys.exit(f"`go version -m {binary}` listed no modules:\n{text}")
    found = sorted(modules.values())
    found.append(Module("stdlib", go_version, ""))
    return go_version, arch, found


def created() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
        if epoch
        else datetime.datetime.now(datetime.timezone.utc)
    )
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def cyclonedx(component: str, version: str, modules: List[Module], when: str, key: uuid.UUID) -> dict:
    def library(module: Module) -> dict:
        return {"type": "library", "bom-ref": module.purl, "name": module.path, "version": module.version, "purl": module.purl}

    main = Module(MAIN_MODULE, f"v{version}", "")
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(key, 'cyclonedx')}",
        "version": 1,
        "metadata": {
            "timestamp": when,
            "tools": {"components": [{"type": "application", "name": TOOL}]},
            "component": {
                "type": "application",
                "bom-ref": main.purl,
                "name": component,
                "version": version,
                "purl": main.purl,
            },
        },
        "components": [library(module) for module in modules],
        "dependencies": [{"ref": main.purl, "dependsOn": [module.purl for module in modules]}],
    }


def spdx(component: str, version: str, modules: List[Module], when: str, key: uuid.UUID) -> dict:
    def package(spdx_id: str, module: Module) -> dict:
        return {
            "name": module.path,
            "SPDXID": spdx_id,
            "versionInfo": module.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "externalRefs": [
                {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": module.purl}
            ],
        }

    main = Module(MAIN_MODULE, f"v{version}", "")
    packages = [package("SPDXRef-Package-main", main)]
    relationships = [
        {"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-Package-main"}
    ]
    for index, module in enumerate(modules):
        spdx_id = f"SPDXRef-Package-{index}"
        packages.append(package(spdx_id, module))
        relationships.append(
            {"spdxElementId": "SPDXRef-Package-main", "relationshipType": "DEPENDS_ON", "relatedSpdxElement": spdx_id}
        )
    return {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{component}-{version}",
        "documentNamespace": f"https://blacklodge.invalid/spdx/{component}-{version}-{key}",
        "creationInfo": {"created": when, "creators": [f"Tool: {TOOL}"]},
        "packages": packages,
        "relationships": relationships,
    }


def syft(component: str, version: str, go_version: str, arch: str, modules: List[Module], key: uuid.UUID) -> dict:
    def artifact(module: Module) -> dict:
        return {
            "id": str(uuid.uuid5(key, module.purl)),
            "name": module.path,
            "version": module.version,
            "type": "go-module",
            "foundBy": TOOL,
            "locations": [{"path": f"/cnb/lifecycle/{component}"}],
            "licenses": [],
            "language": "go",
            "cpes": [],
            "purl": module.purl,
            "metadataType": "go-module-buildinfo-entry",
            "metadata": {
                "goCompiledVersion": go_version,
                "architecture": arch,
                "mainModule": MAIN_MODULE,
                **({"h1Digest": module.h1} if module.h1 else {}),
            },
        }

    return {
        "artifacts": [artifact(module) for module in modules],
        "artifactRelationships": [],
        "source": {
            "id": str(uuid.uuid5(key, "source")),
            "name": component,
            "version": version,
            "type": "file",
            "metadata": {"path": f"/cnb/lifecycle/{component}"},
        },
        "distro": {},
        "descriptor": {"name": TOOL, "version": go_version},
        "schema": {
            "version": "16.0.0",
            "url": "https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.0.json",
        },
    }


def main() -> None:
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    binary, component, version, out_dir = sys.argv[1:]
    go_version, arch, modules = build_info(binary)
    when = created()
    # Stable ids for the same modules: rebuilding the same lifecycle gives the same documents
    # (but for the creation time, unless SOURCE_DATE_EPOCH is set).
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"{MAIN_MODULE}/{component}@{version}:" + ",".join(m.purl for m in modules))
    documents = {
        "cdx": cyclonedx(component, version, modules, when, key),
        "spdx": spdx(component, version, modules, when, key),
        "syft": syft(component, version, go_version, arch, modules, key),
    }
    for extension, document in documents.items():
        path = os.path.join(out_dir, f"{component}.sbom.{extension}.json")
        with open(path, "w") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")


if __name__ == "__main__":
    main()
