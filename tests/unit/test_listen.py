"""./scripts/local.sh --listen (devtools/listen.py): where moto listens for `sam local` containers."""

import os
import stat
import urllib.request
from pathlib import Path

import pytest

from devtools.listen import ListenError, listen_address
from devtools.moto import MotoEndpoint


def test_an_address_is_taken_as_it_is_and_anything_else_refused() -> None:
    assert listen_address("127.0.0.1") == "127.0.0.1"
    assert listen_address("172.17.0.1") == "172.17.0.1"  # binding says whether it is this machine's
    for bad in ("localhost", "256.1.1.1", "::1", ""):
        with pytest.raises(ListenError, match="not an IPv4 address"):
            listen_address(bad)


def test_every_interface_comes_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert listen_address("0.0.0.0") == "0.0.0.0"
    assert "anyone who reaches this machine" in capsys.readouterr().err


def _docker_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """A `docker` command that answers as Docker's CLI would (there is no Docker here)."""
    docker = tmp_path / "docker"
    docker.write_text(f"#!/bin/sh\n{script}\n")
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


def test_docker_means_the_bridge_networks_gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}'` prints it.
    _docker_on_path(
        tmp_path,
        monkeypatch,
        '[ "$*" = "network inspect bridge --format {{range .IPAM.Config}}{{.Gateway}}{{end}}" ] && echo 172.17.0.1',
    )
    assert listen_address("docker") == "172.17.0.1"


def test_docker_without_docker_or_its_bridge_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker at all
    with pytest.raises(ListenError, match="needs the docker command"):
        listen_address("docker")
    _docker_on_path(tmp_path, monkeypatch, "echo 'Cannot connect to the Docker daemon' >&2; exit 1")
    with pytest.raises(ListenError, match="found no gateway: Cannot connect to the Docker daemon"):
        listen_address("docker")


def test_moto_on_every_interface_is_reached_at_the_loopback() -> None:
    endpoint = MotoEndpoint(listen="0.0.0.0").start()  # start() resets it over HTTP at endpoint.url
    try:
        assert endpoint.url == f"http://127.0.0.1:{endpoint.port}"
        with urllib.request.urlopen(f"{endpoint.url}/moto-api/", timeout=5) as answer:
            assert answer.status == 200
    finally:
        endpoint.stop()
