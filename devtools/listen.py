"""Where the local stack's moto listens (./scripts/local.sh --listen): the loopback by default, or an
address a container can route to, for `sam local start-api` (docs/local-development.md)."""

import ipaddress
import subprocess
import sys

LOOPBACK = "127.0.0.1"
EVERY_INTERFACE = "0.0.0.0"  # only when asked for, with a warning
DOCKER_BRIDGE = "docker"
BRIDGE_GATEWAY = [
    "docker",
    "network",
    "inspect",
    "bridge",
    "--format",
    "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
]


class ListenError(Exception):
    """An address the stack cannot listen on: reported in one line, exit status 1."""


def bridge_gateway() -> str:
    """The gateway of Docker's default bridge network (docker0, e.g. 172.17.0.1): this machine, as
    the containers on that network reach it (those of `sam local` too, which stay on it)."""
    try:
        found = subprocess.run(BRIDGE_GATEWAY, capture_output=True, text=True, timeout=30, check=False)
    except FileNotFoundError:
        raise ListenError("--listen docker needs the docker command (Docker's bridge network)") from None
    if found.returncode != 0 or not found.stdout.strip():
        raise ListenError(
            f"--listen docker: {' '.join(BRIDGE_GATEWAY[:4])} found no gateway: {found.stderr.strip()}"
        )
    return found.stdout.split()[0]


def listen_address(value: str) -> str:
    """VALUE checked: `docker` (the bridge's gateway), 0.0.0.0 (every interface: anyone who reaches
    this machine, said in a warning) or an IPv4 address (of this machine: binding says if not)."""
    address = bridge_gateway() if value == DOCKER_BRIDGE else value
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        raise ListenError(
            f"--listen {value!r}: not an IPv4 address, {DOCKER_BRIDGE} or {EVERY_INTERFACE}"
        ) from None
    if address == EVERY_INTERFACE:
        print(
            "warning: moto listens on every interface: anyone who reaches this machine can read and change "
            "the local stack's S3, Cognito and Secrets Manager, without credentials",
            file=sys.stderr,
        )
    return address
