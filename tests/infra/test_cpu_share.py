"""The CPU quota files the benchmark writes (cgroup v1 and v2), checked against a hierarchy in a
temporary folder: what the kernel would do with them is the benchmark's to show, not a test's."""

from pathlib import Path

import pytest

from benchmarks.cpu_share import CpuShares, Hierarchy, find_hierarchy, limit_files, quota_us


def test_quota_is_the_memory_share_of_one_vcpu_per_period() -> None:
    assert quota_us(256) == 14_471  # 100,000 us * 256 / 1769
    assert quota_us(1769) == 100_000
    assert quota_us(3538) == 200_000  # two vCPUs
    assert quota_us(None) is None
    assert quota_us(1, period_us=100_000) == 1_000  # the kernel's minimum


def test_v1_files() -> None:
    assert limit_files(1, 512) == {
        "cpu.shares": "262144",
        "cpu.cfs_period_us": "100000",
        "cpu.cfs_quota_us": "28942",
    }
    assert limit_files(1, None)["cpu.cfs_quota_us"] == "-1"


def test_v2_files() -> None:
    assert limit_files(2, 512) == {"cpu.weight": "10000", "cpu.max": "28942 100000"}
    assert limit_files(2, None)["cpu.max"] == "max 100000"


@pytest.mark.parametrize("version", [1, 2])
def test_child_groups_are_written_joined_and_removed(tmp_path: Path, version: int) -> None:
    shares = CpuShares(Hierarchy(version, tmp_path))
    assert shares.available
    group = shares.group(256)
    assert group is not None and group.parent.parent == tmp_path
    for name, content in limit_files(version, 256).items():
        assert (group / name).read_text() == content
    join = shares.preexec(256)
    assert join is not None
    join()
    assert (group / "cgroup.procs").read_text() == "0"
    if version == 2:
        assert (group.parent / "cgroup.subtree_control").read_text() == "+cpu"
    for path in group.iterdir():  # a real cgroup's files vanish with it; these are plain files
        path.unlink()
    for path in group.parent.iterdir():
        if path.is_file():
            path.unlink()
    shares.close()
    assert not group.parent.exists()


def test_without_a_writable_hierarchy_it_says_so_and_limits_nothing(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    found = find_hierarchy(mounts)
    assert isinstance(found, str) and "no cgroup" in found
    shares = CpuShares(found)
    assert not shares.available and shares.preexec(256) is None
    assert shares.description.startswith("CPU NOT LIMITED")


def test_finds_the_v1_cpu_controller_before_v2(tmp_path: Path) -> None:
    (tmp_path / "unified").mkdir()
    (tmp_path / "unified" / "cgroup.controllers").write_text("cpu memory")
    (tmp_path / "cpu").mkdir()
    mounts = tmp_path / "mounts"
    mounts.write_text(
        f"cgroup2 {tmp_path}/unified cgroup2 rw 0 0\ncgroup {tmp_path}/cpu cgroup rw,relatime,cpu 0 0\n"
    )
    assert find_hierarchy(mounts) == Hierarchy(1, tmp_path / "cpu")
    mounts.write_text(f"cgroup2 {tmp_path}/unified cgroup2 rw 0 0\n")
    assert find_hierarchy(mounts) == Hierarchy(2, tmp_path / "unified")
