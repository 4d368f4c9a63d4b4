"""The shipped files (mappings/) reach a regular install, and are found in the repo and there.

The wheel test is the real thing: build a wheel from a copy of the repo, install it into a
fresh venv, and from a directory outside the repo check that the default mapping, the
country/state names and the free-mail list are found and usable. An editable install or
the test run itself would find the repo's mappings/ and prove nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

import connector.shipped as shipped
from connector.config.settings import settings_from_dict
from connector.errors import ConfigError
from connector.shipped import ShippedFileMissing, shipped_file

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("default.toml", "countries.json", "freemail.txt")


# -- the lookup, in the repo ---------------------------------------------------------------

def test_in_the_repo_the_shipped_files_are_the_repos_mappings():
    for name in SHIPPED:
        assert shipped_file(name) == ROOT / "mappings" / name


def test_shipped_file_looks_in_the_source_tree_first_then_the_installed_copy(tmp_path, monkeypatch):
    source, installed = tmp_path / "source", tmp_path / "installed"
    for folder in (source, installed):
        folder.mkdir()
        (folder / "list.txt").write_text(folder.name)
    monkeypatch.setattr(shipped, "SEARCH_DIRS", (source, installed))
    assert shipped_file("list.txt") == source / "list.txt"
    (source / "list.txt").unlink()
    assert shipped_file("list.txt") == installed / "list.txt"
    (installed / "list.txt").unlink()
    with pytest.raises(ConfigError) as caught:
        shipped_file("list.txt")
    assert isinstance(caught.value, ShippedFileMissing)
    message = str(caught.value)
    assert "'list.txt'" in message
    assert str(source / "list.txt") in message and str(installed / "list.txt") in message


def test_mapping_path_prefers_as_given_then_beside_the_config_then_shipped(tmp_path, monkeypatch):
    cwd, etc = tmp_path / "cwd", tmp_path / "etc"
    cwd.mkdir(), etc.mkdir()
    monkeypatch.chdir(cwd)
    settings = settings_from_dict(
        {"salesforce": {"instance_url": "https://acme.my.salesforce.com"},
         "campaigns": [{"form_id": "f-1", "campaign_id": "701000000000001AAA"}]},
        env={}, source=str(etc / "leadsync.toml"), require_secrets=False)
    assert settings.sync.mapping == "mappings/default.toml"

    assert settings.mapping_path() == ROOT / "mappings" / "default.toml"      # shipped
    (etc / "mappings").mkdir()
    (etc / "mappings" / "default.toml").write_text("")
    assert settings.mapping_path() == etc / "mappings" / "default.toml"       # beside the config
    (cwd / "mappings").mkdir()
    (cwd / "mappings" / "default.toml").write_text("")
    assert settings.mapping_path() == Path("mappings/default.toml")          # as given

    own = replace(settings, sync=replace(settings.sync, mapping="mappings/acme.toml"))
    assert own.mapping_path() == Path("mappings/acme.toml")  # found nowhere: the loader names it


def test_every_package_is_listed_in_pyproject():
    """pyproject lists packages by hand (package-dir needs it); a new one must not be left out."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for init in (ROOT / "connector").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"


# -- a wheel, installed --------------------------------------------------------------------

CHECK = r"""
import json, sys
from pathlib import Path
import connector
from connector.core.accounts import AccountMatching, is_free_mail
from connector.config.settings import settings_from_dict
from connector.config.mapping_file import load_mapping
from connector.shipped import shipped_file
from connector.core.transforms import Target, apply_transforms

settings = settings_from_dict(
    {"salesforce": {"instance_url": "https://acme.my.salesforce.com"},
     "campaigns": [{"form_id": "f-1", "campaign_id": "701000000000001AAA"}]},
    env={}, require_secrets=False)
mapping_path = settings.mapping_path()
mapping = load_mapping(mapping_path)
print(json.dumps({
    "prefix": sys.prefix,
    "package": connector.__file__,
    "mapping_path": str(mapping_path),
    "shipped": {name: str(shipped_file(name))
                for name in ("default.toml", "countries.json", "freemail.txt")},
    "email_field": mapping.email_field,
    "state": apply_transforms(("state",), "wa", Target("Lead", "State", country="Australia"))[0],
    "country": apply_transforms(("country",), "deutschland", Target("Lead", "Country"))[0],
    "gmail": is_free_mail("gmail.com", AccountMatching()),
    "acme": is_free_mail("acme.com", AccountMatching()),
}))
"""


def _setuptools_builds_offline() -> bool:
    """Can this interpreter build the wheel itself (``--no-build-isolation``, no index)?

    setuptools >= 70.1 builds wheels on its own (the ``test`` extra installs it); 68 to 70.0
    need the ``wheel`` package too. Otherwise pip builds in isolation and fetches
    setuptools from the package index, exactly as a user's ``pip install .`` does.
    """
    try:
        version = tuple(int(part) for part in re.findall(r"\d+", importlib.metadata.version("setuptools"))[:2])
    except importlib.metadata.PackageNotFoundError:
        return False
    return version >= (70, 1) or (version >= (68, 0) and importlib.util.find_spec("wheel") is not None)


def _run(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.packaging
def test_a_wheel_install_carries_the_shipped_files(tmp_path):
    src = tmp_path / "src"       # a copy, so the build leaves nothing in the repo
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for folder in ("connector", "mappings"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))

    dist = tmp_path / "dist"
    isolation = ["--no-build-isolation"] if _setuptools_builds_offline() else []
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *isolation, "-w", dist, src, cwd=tmp_path)
    (wheel,) = dist.glob("leadsync-*.whl")

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "check.py").write_text(CHECK)
    found = json.loads(_run(python, "check.py", cwd=elsewhere))

    installed = Path(found["package"]).resolve().parent
    assert installed.is_relative_to(Path(found["prefix"]).resolve()), found   # the wheel, not the repo
    assert not installed.is_relative_to(ROOT) and not installed.is_relative_to(src), found
    for name, path in found["shipped"].items():
        assert Path(path) == installed / "_mappings" / name, found
    assert Path(found["mapping_path"]) == installed / "_mappings" / "default.toml", found
    assert found["email_field"] == "email"
    assert found["state"] == "Western Australia"
    assert found["country"] == "Germany"
    assert found["gmail"] is True and found["acme"] is False
    assert (venv / "bin" / "leadsync").exists()
