"""The dependency probes behind /health."""

import threading

from app.health import CONNECTED, HealthChecker


def test_dependencies_are_probed_concurrently() -> None:
    """Each probe returns only once all three run at the same time: probed one after another,
    the first would wait for the others until the barrier breaks."""
    all_running = threading.Barrier(3, timeout=5)

    def probe() -> str:
        all_running.wait()
        return CONNECTED

    checker = HealthChecker({"dynamodb": probe, "s3": probe, "cognito": probe}, cache_seconds=60)
    report = checker.report()
    assert report.dependencies == {"dynamodb": CONNECTED, "s3": CONNECTED, "cognito": CONNECTED}
    assert report.healthy and checker.cached() is report
