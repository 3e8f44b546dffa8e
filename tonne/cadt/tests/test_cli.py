"""tonne cadt …"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tonne import testing
from tonne.cadt.models import ImportedRecord, SyncDestination
from tonne.cadt.standin import StandInNode
from tonne.cadt.tests.conftest import REFERENCE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("loopback_outbound")]


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("cadt", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_export_import_and_status(cadt_reg: testing.Registry, tmp_path: Path) -> None:
    target = tmp_path / "registry.xlsx"
    _, err = _run("export", "--model", "2", "--format", "xlsx", "-o", str(target))
    assert target.read_bytes()[:2] == b"PK" and err.startswith("cursor ")
    cursor = int(err.split()[1])
    _run("export", "--since", str(cursor), "-o", str(tmp_path / "changes.json"))
    assert not any(json.loads((tmp_path / "changes.json").read_text()).values())
    out, _ = _run("import", str(REFERENCE / "new-unit.json"), "--as", cadt_reg.admin.username)
    assert "1 new" in out and ImportedRecord.objects.count() == 1
    out, _ = _run("import", str(REFERENCE / "new-unit.json"), "--as", cadt_reg.admin.username)
    assert "nothing changed" in out
    out, _ = _run("picklists")
    assert "v1 (2026-06-30)" in out and "v2 (2026-06-30)" in out
    with StandInNode() as node:
        _run("node", "add", "main", node.url, "--from-start")
        out, _ = _run("sync")
        assert "main: ledger 0-" in out and "delivered" in out
        out, _ = _run("status")
        assert "0 entries pending" in out
    assert SyncDestination.objects.get().cursor > 0


def test_refusals_name_each_row(cadt_reg: testing.Registry, tmp_path: Path) -> None:
    bad = json.loads((REFERENCE / "new-project.json").read_text())
    bad["projectStatus"] = "Sort of registered"
    bad["projectLocations"][0]["country"] = "Atlantis"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    err = io.StringIO()
    with pytest.raises(CommandError, match="CADT_IMPORT_REFUSED"):
        call_command("cadt", "import", str(path), "--as", cadt_reg.admin.username, stderr=err)
    text = err.getvalue()
    assert "projects row 1 projectStatus: PICKLIST_VALUE_NOT_ALLOWED" in text
    assert "projectLocations[1].country" in text
    with pytest.raises(CommandError, match="no such file"):
        call_command("cadt", "import", str(tmp_path / "missing.json"), "--as", cadt_reg.admin.username)
    with pytest.raises(CommandError, match="NOT_REGISTRY_ADMINISTRATOR"):
        call_command("cadt", "import", str(path), "--as", cadt_reg.developer.username)
    assert ImportedRecord.objects.count() == 0
