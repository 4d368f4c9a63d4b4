"""Issue 22, items 4 and 5: the Dockerfile, the Kubernetes Deployment and the systemd unit.

The files are checked for what the issue asks of them everywhere; the tools that can judge
them for real (a container runtime, ``systemd-analyze``) are run where they exist, and the
test is skipped with the reason printed where they do not.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "docs" / "leadsync.service"


def _skip(reason: str) -> None:
    print(f"SKIPPED: {reason}")
    pytest.skip(reason)


# -- Dockerfile ---------------------------------------------------------------------------------

def _dockerfile() -> list[str]:
    """Instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [line.strip() for line in re.sub(r"\\\n\s*", " ", "\n".join(lines)).splitlines() if line.strip()]


def test_dockerfile_is_slim_non_root_with_state_on_a_volume():
    steps = _dockerfile()
    assert re.fullmatch(r"FROM python:3\.1[1-9]-slim", steps[0])
    user = [s for s in steps if s.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("root", "0")
    assert 'VOLUME ["/var/lib/leadsync"]' in steps
    assert steps[-1] == 'CMD ["leadsync", "daemon", "--interval", "5m", "--http", ":8080"]'
    health = next(s for s in steps if s.startswith("HEALTHCHECK"))
    assert "http://127.0.0.1:8080/healthz" in health
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "state", "*.key", "*.pem"} <= set(ignored)   # no state or keys in the image


def test_the_healthcheck_reads_a_key_status_json_has(tmp_path):
    """The HEALTHCHECK's one-liner against the real ``status --json`` of an idle state."""
    from click.testing import CliRunner
    from connector.cli import main

    config = tmp_path / "c.toml"
    config.write_text('[salesforce]\ninstance_url = "https://acme.my.salesforce.com"\n'
                      '[state]\npath = "s.db"\n[[campaigns]]\nform_id = "f"\ncampaign_id = "c"\n')
    out = CliRunner().invoke(main, ["status", "--json", "--config", str(config)])
    assert out.exit_code == 0, out.output
    import json
    assert json.loads(out.output)["daemon"]["running"] is False      # no daemon: unhealthy


def test_docker_image_builds_and_runs_as_non_root():
    docker = shutil.which("docker")
    if docker is None:
        _skip("no docker binary on this machine")
    info = subprocess.run([docker, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        _skip(f"`docker info` failed (no container runtime reachable): "
              f"{(info.stderr or info.stdout).strip().splitlines()[-1:]}")
    tag = f"leadsync-test:{uuid.uuid4().hex[:8]}"
    try:
        subprocess.run([docker, "build", "-t", tag, str(ROOT)], check=True, timeout=900)
        uid = subprocess.run([docker, "run", "--rm", "--entrypoint", "id", tag, "-u"],
                             capture_output=True, text=True, check=True, timeout=120)
        assert uid.stdout.strip() == "10001"
        version = subprocess.run([docker, "run", "--rm", tag, "leadsync", "--help"],
                                 capture_output=True, text=True, check=True, timeout=120)
        assert "daemon" in version.stdout
        inspect = subprocess.run([docker, "image", "inspect", "-f",
                                  "{{json .Config.Cmd}} {{json .Config.Volumes}}", tag],
                                 capture_output=True, text=True, check=True, timeout=60)
        assert '["leadsync","daemon","--interval","5m"]' in inspect.stdout
        assert "/var/lib/leadsync" in inspect.stdout
    finally:
        subprocess.run([docker, "image", "rm", "-f", tag], capture_output=True, timeout=120)


# -- Kubernetes ---------------------------------------------------------------------------------

def test_kubernetes_deployment_has_one_replica_and_a_pvc_for_the_state():
    docs = list(yaml.safe_load_all((ROOT / "docs" / "kubernetes-deployment.yaml").read_text()))
    kinds = {d["kind"]: d for d in docs}
    assert set(kinds) == {"PersistentVolumeClaim", "Deployment"}
    pvc, deploy = kinds["PersistentVolumeClaim"], kinds["Deployment"]
    spec = deploy["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["args"][:4] == ["leadsync", "daemon", "--interval", "5m"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    state = volumes["state"]["persistentVolumeClaim"]["claimName"]
    assert state == pvc["metadata"]["name"] and pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["state"] == "/var/lib/leadsync"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "secretRef" in container["envFrom"][0]           # tokens never in the ConfigMap


# -- systemd ------------------------------------------------------------------------------------

def _unit_settings() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_systemd_unit_is_hardened():
    s = _unit_settings()
    assert s["DynamicUser"] == ["yes"] and s["StateDirectory"] == ["leadsync"]
    assert s["ProtectSystem"] == ["strict"] and s["ReadWritePaths"] == ["/var/lib/leadsync"]
    assert s["NoNewPrivileges"] == ["yes"] and s["RestartPreventExitStatus"] == ["2"]
    assert s["CapabilityBoundingSet"] == [""] and s["AmbientCapabilities"] == [""]
    for key in ("ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
                "RestrictNamespaces", "LockPersonality", "RestrictSUIDSGID"):
        assert s[key] == ["yes"], key
    assert s["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert "@system-service" in s["SystemCallFilter"]
    assert "ExecStart" in s and "daemon" in s["ExecStart"][0]


def _runnable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's leadsync (verify checks that the
    binary exists), under the unit's own name."""
    leadsync = shutil.which("leadsync") or str(Path(__import__("sys").executable).parent / "leadsync")
    text = UNIT.read_text().replace("/opt/leadsync/.venv/bin/leadsync", leadsync)
    path = tmp_path / "leadsync.service"
    path.write_text(text)
    return path


def test_systemd_analyze_verify_and_security(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        _skip("systemd-analyze is not installed here")
    unit = _runnable_unit(tmp_path)
    verify = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    if verify.returncode != 0 and "Failed to" in verify.stderr and "leadsync.service" not in verify.stderr:
        _skip(f"systemd-analyze verify cannot run here: {verify.stderr.strip()[:200]}")
    assert verify.returncode == 0, verify.stderr
    assert "leadsync.service" not in verify.stderr, verify.stderr   # no warning about the unit
    security = subprocess.run([tool, "security", "--offline=true", str(unit)],
                              capture_output=True, text=True, timeout=120)
    if security.returncode != 0 and "offline" in (security.stderr or "").lower():
        print("systemd-analyze security --offline is not supported by this systemd")
        return
    match = re.search(r"Overall exposure level for leadsync\.service: ([0-9.]+) (\w+)",
                      security.stdout)
    assert match, security.stdout[-500:] + security.stderr[-500:]
    print(f"systemd-analyze security: exposure {match.group(1)} {match.group(2)}")
    assert float(match.group(1)) <= 2.0          # systemd's "OK" band
