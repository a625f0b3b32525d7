"""Run a process with the CPU that Lambda gives a function of a given memory size.

Lambda allocates CPU in proportion to memory: one vCPU at 1,769 MB. A CFS bandwidth quota of
`period * memory / 1769` per period gives a process the same share here. Only the processes started
through `CpuShares.preexec(memory)` are limited, never the local AWS the function talks to; they
also get the highest weight, so that other work on a shared machine does not take their share.

cgroup v1 (`cpu.cfs_quota_us` / `cpu.cfs_period_us` in the `cpu` controller) and cgroup v2
(`cpu.max` = "<quota> <period>") are both supported; where neither can be written (not root, a
read-only mount, a laptop without the cpu controller delegated) `available` is False with the reason,
and processes run unthrottled.
"""

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FULL_VCPU_MB = 1769
PERIOD_US = 100_000  # the kernel's default CFS period
MIN_QUOTA_US = 1_000  # the kernel refuses quotas under 1 ms
# The measured process's weight against everything else on the machine (other test runs): the
# quota caps what it takes, the weight makes sure it gets that much when the machine is busy, as a
# Lambda function gets its share whatever its neighbours do. Both are the maximum the kernel takes.
WEIGHT_V1_SHARES = 262_144
WEIGHT_V2 = 10_000


def quota_us(memory_mb: int | None, period_us: int = PERIOD_US) -> int | None:
    """The CFS quota per period for `memory_mb`'s share of a vCPU (1,769 MB: one vCPU; above it,
    more); None (no quota) for an unlimited process."""
    if memory_mb is None:
        return None
    return max(MIN_QUOTA_US, period_us * memory_mb // FULL_VCPU_MB)


def limit_files(version: int, memory_mb: int | None, period_us: int = PERIOD_US) -> dict[str, str]:
    """The files to write in a child cgroup, and their contents, for cgroup `version` 1 or 2."""
    quota = quota_us(memory_mb, period_us)
    if version == 1:
        return {
            "cpu.shares": str(WEIGHT_V1_SHARES),
            "cpu.cfs_period_us": str(period_us),
            "cpu.cfs_quota_us": str(-1 if quota is None else quota),
        }
    return {"cpu.weight": str(WEIGHT_V2), "cpu.max": f"{'max' if quota is None else quota} {period_us}"}


@dataclass
class Hierarchy:
    """Where child cgroups are made, and which file takes a process id."""

    version: int
    root: Path

    @property
    def procs_file(self) -> str:
        return "cgroup.procs"


def _v1_root(mounts: Path) -> Path | None:
    for line in mounts.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "cgroup" and "cpu" in fields[3].split(","):
            return Path(fields[1])
    return None


def _v2_root(mounts: Path) -> Path | None:
    for line in mounts.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == "cgroup2":
            root = Path(fields[1])
            controllers = root / "cgroup.controllers"
            if controllers.exists() and "cpu" in controllers.read_text().split():
                return root
    return None


def find_hierarchy(mounts: Path = Path("/proc/self/mounts")) -> Hierarchy | str:
    """A writable hierarchy with the cpu controller, or why there is none."""
    v1 = _v1_root(mounts)
    if v1 is not None:
        return (
            Hierarchy(1, v1)
            if os.access(v1, os.W_OK)
            else f"cgroup v1 cpu controller at {v1} is not writable"
        )
    v2 = _v2_root(mounts)
    if v2 is not None:
        return Hierarchy(2, v2) if os.access(v2, os.W_OK) else f"cgroup v2 at {v2} is not writable"
    return "no cgroup hierarchy with the cpu controller is mounted"


class CpuShares:
    """Child cgroups `echoes-bench-<pid>/mem-<MB>`, one per memory size; `close()` removes them."""

    def __init__(self, hierarchy: Hierarchy | str | None = None) -> None:
        found = find_hierarchy() if hierarchy is None else hierarchy
        self.reason = found if isinstance(found, str) else ""
        self._hierarchy = None if isinstance(found, str) else found
        self._groups: dict[int | None, Path] = {}
        self._parent: Path | None = None
        if self._hierarchy is not None:
            try:
                self._parent = self._hierarchy.root / f"echoes-bench-{os.getpid()}"
                self._parent.mkdir(exist_ok=True)
                if self._hierarchy.version == 1:  # the weight counts at every level
                    (self._parent / "cpu.shares").write_text(str(WEIGHT_V1_SHARES))
                else:  # children of a v2 group get the cpu controller only if it is enabled
                    (self._parent / "cpu.weight").write_text(str(WEIGHT_V2))
                    (self._parent / "cgroup.subtree_control").write_text("+cpu")
            except OSError as error:
                self.reason = f"cannot create a cgroup under {self._hierarchy.root}: {error}"
                self._hierarchy = None

    @property
    def available(self) -> bool:
        return self._hierarchy is not None

    @property
    def description(self) -> str:
        if self._hierarchy is None:
            return f"CPU NOT LIMITED ({self.reason}): every memory size measured unthrottled"
        return f"CPU limited by cgroup v{self._hierarchy.version} at {self._hierarchy.root}"

    def group(self, memory_mb: int | None) -> Path | None:
        """The cgroup for `memory_mb`'s share (None: no quota, the same weight)."""
        if self._hierarchy is None or self._parent is None:
            return None
        if memory_mb not in self._groups:
            path = self._parent / ("unlimited" if memory_mb is None else f"mem-{memory_mb}")
            path.mkdir(exist_ok=True)
            for name, content in limit_files(self._hierarchy.version, memory_mb).items():
                (path / name).write_text(content)
            self._groups[memory_mb] = path
        return self._groups[memory_mb]

    def preexec(self, memory_mb: int | None) -> Callable[[], None] | None:
        """For subprocess.Popen(preexec_fn=...): the child joins the cgroup before it execs, so
        its whole life (interpreter start included) runs under the quota."""
        group = self.group(memory_mb)
        if group is None or self._hierarchy is None:
            return None
        procs = group / self._hierarchy.procs_file

        def join() -> None:
            procs.write_text("0")  # "0": the writing process itself

        return join

    def close(self) -> None:
        """Remove the child cgroups (their processes have exited; an empty cgroup is rmdir'd)."""
        for path in [*self._groups.values(), *([self._parent] if self._parent else [])]:
            try:
                path.rmdir()
            except OSError as error:
                print(f"warning: could not remove cgroup {path}: {error}", file=sys.stderr)
        self._groups.clear()
        self._parent = None

    def __enter__(self) -> "CpuShares":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
