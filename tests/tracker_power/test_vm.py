"""A virtual machine is charged its vCPUs' share of the host part; bare metal the whole part."""

from __future__ import annotations

import pytest

from tracker.power.host import CpuInfo, HostRoots, read_cpu_info, virtualization
from tracker.power.tdp import (
    DEFAULT_W_PER_LOGICAL_CPU,
    IDLE_FRACTION,
    TdpModelCpu,
    cpu_power_model,
)

EPYC_7R13 = "AMD EPYC 7R13 Processor"  # 225 W, 96 threads


def test_a_two_vcpu_guest_is_charged_its_share_of_the_part():
    model = cpu_power_model(CpuInfo(EPYC_7R13, 1, 2, True), "hypervisor flag")
    assert model.method == "tdp-model-vcpu-share"
    assert model.full_load_w == pytest.approx(225.0 * 2 / 96)  # 4.69 W, not 225 W
    assert model.idle_w == pytest.approx(IDLE_FRACTION * 225.0 * 2 / 96)
    assert model.detail == {
        "virtualization": "hypervisor flag",
        "tdp_model": "AMD EPYC 7R13",
        "part_tdp_w": "225",
        "part_threads": "96",
    }


def test_a_guest_spanning_two_sockets_is_charged_both():
    model = cpu_power_model(CpuInfo(EPYC_7R13, 2, 192, True), "hypervisor flag")
    assert model.full_load_w == pytest.approx(450.0)


def test_bare_metal_keeps_the_whole_part_per_package():
    model = cpu_power_model(CpuInfo(EPYC_7R13, 2, 192, False))
    assert (model.method, model.full_load_w) == ("tdp-model", 450.0)
    # A process's marginal cost per busy CPU second is the same on the host and in the guest.
    guest = cpu_power_model(CpuInfo(EPYC_7R13, 1, 2, True), "hypervisor flag")
    assert model.active_w_per_cpu == pytest.approx(guest.active_w_per_cpu)


@pytest.mark.parametrize(
    ("cpu", "full_load_w"),
    [
        # The model name of many cloud VMs names no part: the per-vCPU default.
        (CpuInfo("AMD EPYC", 1, 2, True), DEFAULT_W_PER_LOGICAL_CPU * 2),
        # A part with a TDP but no curated thread count: the default, capped by the part's TDP.
        (CpuInfo("AMD Ryzen 9 5950X 16-Core Processor", 1, 4, True), DEFAULT_W_PER_LOGICAL_CPU * 4),
        (CpuInfo("AMD Ryzen 9 5950X 16-Core Processor", 1, 64, True), 105.0),
    ],
)
def test_a_guest_on_an_unknown_part_gets_the_per_vcpu_default(cpu, full_load_w):
    model = cpu_power_model(cpu, "hypervisor flag")
    assert (model.method, model.full_load_w) == ("tdp-model-default", full_load_w)


def test_a_forced_full_load_power_wins():
    model = cpu_power_model(CpuInfo(EPYC_7R13, 1, 2, True), "hypervisor flag", full_load_w=80.0)
    assert (model.method, model.full_load_w) == ("tdp-model", 80.0)


@pytest.mark.parametrize(
    ("dmi", "evidence"),
    [
        ({"sys_vendor": "QEMU", "product_name": "Standard PC (Q35 + ICH9, 2009)"}, "QEMU"),
        ({"sys_vendor": "Amazon EC2", "product_name": "c6a.large"}, "Amazon EC2"),
        ({"sys_vendor": "Google", "product_name": "Google Compute Engine"}, "Google"),
        ({"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine"}, "Microsoft"),
        ({"sys_vendor": "Red Hat", "product_name": "KVM"}, "KVM"),
        # Whole hosts: an EC2 bare-metal instance, a Microsoft laptop, a plain server.
        ({"sys_vendor": "Amazon EC2", "product_name": "m6a.metal"}, ""),
        ({"sys_vendor": "Microsoft Corporation", "product_name": "Surface Laptop 5"}, ""),
        ({"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R750"}, ""),
    ],
)
def test_dmi_says_vm_when_the_flag_is_hidden(host_tree, dmi, evidence):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=False)
    host_tree.dmi(**dmi)
    found = virtualization(read_cpu_info(str(host_tree.proc)), host_tree.sys)
    assert (evidence in found) if evidence else found == ""


def test_the_hypervisor_flag_settles_it(host_tree):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=True)
    cpu = read_cpu_info(str(host_tree.proc))
    assert (cpu.model, cpu.packages, cpu.logical_cpus, cpu.hypervisor_flag) == (
        EPYC_7R13,
        1,
        2,
        True,
    )
    assert virtualization(cpu, host_tree.sys) == "hypervisor flag"


def test_the_source_records_the_vcpu_share_method(host_tree):
    host_tree.cpuinfo(EPYC_7R13, 2, guest=True)
    source = TdpModelCpu.probe(HostRoots(host_tree.proc, host_tree.sys))
    assert source.method == "tdp-model-vcpu-share"
    assert source.max_power_w == pytest.approx(4.6875)
    assert (source.info().model, source.info().count) == (EPYC_7R13, 2)
    assert source.info().extra["virtualization"] == "hypervisor flag"
    assert source.info().extra["part_threads"] == "96"
