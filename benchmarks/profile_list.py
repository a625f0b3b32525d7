"""Where a warm list of 20 spends its time: cProfile over many warm invocations, by function and by
package.

    python -m benchmarks.profile_list [--ref COMMIT] [--invocations 2000] [--top 25]
"""

import argparse
import json
import pstats
import subprocess
import sys
from collections import defaultdict

from benchmarks.builds import ROOT
from benchmarks.compare import checkout
from benchmarks.stack import listed_items, seed, start_aws

CHILD = """
import cProfile, json, pstats, sys
spec = json.loads(sys.argv[1])
sys.argv = [sys.argv[0]]
from benchmarks import warm
import os
os.environ.update(spec["env"])
sys.path[:0] = [spec["source"], spec["root"]]
import lambda_handler
from devtools.events import LambdaContext, rest_event
lambda_handler.app.state.aws_clients.dynamodb.meta.events.register(
    "before-send.dynamodb", warm.canned_dynamodb(spec["listed"], len(spec["listed"]))
)
event = rest_event("GET", "/api/v1/echoes", {"page_size": "20"}, {"Authorization": "Bearer " + spec["token"]})
context = LambdaContext()
for _ in range(50):
    lambda_handler.handler(event, context)
profile = cProfile.Profile()
profile.enable()
for _ in range(spec["invocations"]):
    lambda_handler.handler(event, context)
profile.disable()
profile.dump_stats(spec["out"])
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--invocations", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--ref", default=".", help="a commit to profile (default: the working tree)")
    args = parser.parse_args()
    out = ROOT / "build" / "bench" / "list.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    env = start_aws()
    try:
        seed(env.stack.table_name, env.user_id, 25)
        spec = {
            "source": str(checkout(args.ref)),
            "root": str(ROOT),
            "env": env.app_env(),
            "token": env.token,
            "listed": listed_items(env),
            "invocations": args.invocations,
            "out": str(out),
        }
        subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], cwd=ROOT, check=True)
    finally:
        env.endpoint.stop()
    stats = pstats.Stats(str(out))
    total = stats.total_tt  # type: ignore[attr-defined]
    per_call_us = total / args.invocations * 1e6
    print(f"cProfile, {args.invocations} warm lists of 20: {per_call_us:.0f} us each under the profiler\n")
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename)] += tottime
    print("where a warm list's time goes (cumulative, per list; parts overlap where nested):")
    for label, (suffix, function) in COMPONENTS.items():
        seconds = sum(
            row[3]
            for (filename, _, name), row in stats.stats.items()  # type: ignore[attr-defined]
            if name == function and filename.endswith(suffix)
        )
        print(f"  {seconds / total:6.1%}  {seconds / args.invocations * 1e6:7.1f} us  {label}")
    print()
    print("self time by package:")
    for package, seconds in sorted(by_package.items(), key=lambda item: -item[1])[:15]:
        print(f"  {seconds / total:6.1%}  {seconds / args.invocations * 1e6:7.1f} us  {package}")
    print()
    stats.sort_stats("cumulative").print_stats(args.top)


COMPONENTS = {
    "whole invocation (Mangum)": ("mangum/adapter.py", "__call__"),
    "token verification (app/auth.py verify)": ("app/auth.py", "verify"),
    "FastAPI dependency solving (incl. token)": ("fastapi/dependencies/utils.py", "solve_dependencies"),
    "service.list": ("app/service.py", "list"),
    "  DynamoDB Query + parse (store.newest_first)": ("app/store/echoes.py", "newest_first"),
    # 0 where the first page's Query holds the counters (COUNTERS_IN_LIST_INDEX).
    "  DynamoDB GetItem of the counters (store._counts)": ("app/store/echoes.py", "_counts"),
    "  botocore calls (all)": ("botocore/client.py", "_make_api_call"),
    "  items to records (records.from_item)": ("app/store/records.py", "from_item"),
    "  echoes built (service.to_echo, incl. URLs)": ("app/service.py", "to_echo"),
    "  playback URLs (presign.urls)": ("app/store/presign.py", "urls"),
    "  cursor signed (cursor.encode)": ("app/store/cursor.py", "encode"),
    "response serialised (pydantic to_json)": (
        "",
        "<method 'to_json' of 'pydantic_core._pydantic_core.SchemaSerializer' objects>",
    ),
}


def _package(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0].removesuffix(".py")
    if "/app/" in filename:
        return "app/" + filename.split("/app/")[-1].split("/")[0]
    if filename.startswith("<"):
        return filename
    return "stdlib:" + filename.rsplit("/", 1)[-1]


if __name__ == "__main__":
    main()
