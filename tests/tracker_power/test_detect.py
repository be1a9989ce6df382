"""``python -m tracker detect``: the machine a run would measure, described from fake host trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tracker import config
from tracker.detect import describe, format_text
from tracker.intensity import lookup
from tracker.power.host import HostRoots
from tracker.power.tdp import IDLE_FRACTION

ROOT = Path(__file__).resolve().parents[2]
EPYC_7R13 = "AMD EPYC 7R13 Processor"  # 225 W, 96 threads


def detect(tree, tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    """The real command in a subprocess, reading ``tree`` and no settings of this machine."""
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("CODECARBON_", "CARBONBOARD_"))
    }
    environ.update(HOME=str(tmp_path), PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "tracker", "detect", *options]
    command += ["--proc-root", str(tree.proc), "--sys-root", str(tree.sys)]
    return subprocess.run(
        command, capture_output=True, text=True, check=True, cwd=tmp_path, env=environ
    )


def settings_for(tmp_path: Path, **given) -> config.Settings:
    return config.resolve(given, environ={}, cwd=tmp_path, home=tmp_path)


def test_a_two_vcpu_guest_is_a_few_watts_and_the_host_a_whole_part(tmp_path, host_tree):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=True)
    guest = json.loads(detect(host_tree, tmp_path, "--json").stdout)["cpu"]
    assert {k: guest[k] for k in ("model", "count", "virtualized", "method")} == {
        "model": EPYC_7R13,
        "count": 2,
        "virtualized": True,
        "method": "tdp-model-vcpu-share",
    }
    assert 1.0 < guest["full_load_w"] < 10.0  # 225 W x 2 / 96 = 4.69 W
    assert guest["idle_w"] == pytest.approx(IDLE_FRACTION * guest["full_load_w"], abs=1e-3)
    rapl = json.loads(detect(host_tree, tmp_path, "--json").stdout)["rapl"]
    assert rapl["fix"].startswith("none on a virtual machine")

    metal = type(host_tree)(tmp_path / "metal")
    metal.cpuinfo(EPYC_7R13, 96, guest=False)
    host = json.loads(detect(metal, tmp_path, "--json").stdout)["cpu"]
    assert (host["count"], host["virtualized"], host["method"]) == (96, False, "tdp-model")
    assert host["full_load_w"] >= 150.0
    # The marginal cost of a busy CPU second is the same seen from the guest or the host.
    assert host["process_w_per_busy_cpu"] == pytest.approx(guest["process_w_per_busy_cpu"])


def test_dmi_alone_marks_a_guest(tmp_path, host_tree):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=False)
    host_tree.dmi(sys_vendor="Amazon EC2", product_name="c6a.large")
    cpu = json.loads(detect(host_tree, tmp_path, "--json").stdout)["cpu"]
    assert cpu["virtualized"] and "Amazon EC2" in cpu["virtualization"]
    assert cpu["method"] == "tdp-model-vcpu-share"


def test_readable_rapl_is_the_method_and_its_zones_are_listed(tmp_path, host_tree):
    host_tree.cpuinfo(EPYC_7R13, 96, guest=False)
    host_tree.rapl_zone("intel-rapl:0", "package-0")
    host_tree.rapl_zone("intel-rapl:0:0", "core")
    report = json.loads(detect(host_tree, tmp_path, "--json").stdout)
    assert report["rapl"] == {"zones": ["intel-rapl:0 (package-0)"], "readable": True, "fix": ""}
    assert report["cpu"]["method"] == "rapl"


def test_no_rapl_driver_gives_the_exact_fix(tmp_path, host_tree):
    host_tree.cpuinfo(EPYC_7R13, 96, guest=False)
    result = detect(host_tree, tmp_path)
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("RAPL")]
    assert "sudo modprobe intel_rapl_common" in line
    assert str(host_tree.sys / "class" / "powercap") in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a 000 file: see the test above")
def test_root_only_rapl_gives_the_chmod_line(tmp_path, host_tree):
    host_tree.cpuinfo(EPYC_7R13, 96, guest=False)
    energy = host_tree.rapl_zone("intel-rapl:0", "package-0", readable=False)
    report = json.loads(detect(host_tree, tmp_path, "--json").stdout)
    assert not report["rapl"]["readable"]
    assert f"sudo chmod a+r {energy}" in report["rapl"]["fix"]
    assert report["cpu"]["method"] == "tdp-model"


def test_ram_from_meminfo(tmp_path, host_tree):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=True)
    host_tree.meminfo(16 * 1024 * 1024)  # 16 GB in kB
    ram = json.loads(detect(host_tree, tmp_path, "--json").stdout)["ram"]
    assert ram == {"method": "ram-model", "total_gb": 16.0, "power_w": 6.0}


def test_gpus_through_nvml_discovery(tmp_path, host_tree, fake_nvml, gpu_device):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=True)
    nvml = fake_nvml(
        gpu_device(uuid="GPU-a"), gpu_device(name="Tesla T4", uuid="GPU-b", energy_mj=None)
    )
    report = describe(
        HostRoots(host_tree.proc, host_tree.sys),
        settings_for(tmp_path),
        nvml=nvml,
        environ={},
        platform_name="linux",
    )
    assert [(g["name"], g["method"], g["counter"], g["mig"]) for g in report["gpus"]] == [
        ("NVIDIA A100-SXM4-40GB", "nvml-energy-counter", True, False),
        ("Tesla T4", "nvml-power-integration", False, False),
    ]
    assert nvml.shutdown_calls == 1  # nothing left open
    assert "GPU      Tesla T4: method nvml-power-integration" in format_text(report)


def test_location_and_intensity_come_from_the_settings_only(tmp_path, host_tree):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=True)
    roots = HostRoots(host_tree.proc, host_tree.sys)
    report = describe(roots, settings_for(tmp_path, country_iso_code="FRA"), environ={})
    france = lookup(country="FRA")
    assert report["location"]["source"] == "settings"
    assert report["location"]["country_iso_code"] == "FRA"
    assert report["intensity"] == {
        "g_co2e_per_kwh": france.g_co2e_per_kwh,
        "source": france.source,
        "year": france.year,
        "basis": france.basis,
    }
    unknown = describe(roots, settings_for(tmp_path), environ={})
    assert (unknown["location"]["source"], unknown["intensity"]["source"]) == (
        "unknown",
        "world-average",
    )
    forced = describe(
        roots, settings_for(tmp_path, force_carbon_intensity_g_co2e_kwh=50.0), environ={}
    )
    assert forced["intensity"]["source"] == "forced"


def test_forced_powers_are_what_a_run_would_use(tmp_path, host_tree):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=True)
    roots = HostRoots(host_tree.proc, host_tree.sys)
    settings = settings_for(tmp_path, force_cpu_power=30.0, force_ram_power=2.0)
    report = describe(roots, settings, environ={})
    assert (report["cpu"]["method"], report["cpu"]["full_load_w"]) == ("forced", 30.0)
    assert (report["ram"]["method"], report["ram"]["power_w"]) == ("forced", 2.0)


def test_text_report_names_the_guest(tmp_path, host_tree):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=True)
    text = detect(host_tree, tmp_path).stdout
    assert f"CPU      {EPYC_7R13}: 2 logical CPUs, virtual machine (hypervisor flag)" in text
    assert "method tdp-model-vcpu-share" in text
