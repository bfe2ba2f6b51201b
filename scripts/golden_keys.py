#!/usr/bin/env python3
"""Writes tests/golden/response-keys.json: every wire key of the answers the emulator serves,
as the official Python SDK for CloudAPI 2016-07-14 models them.

Run once when the SDK pin in tests/interop/requirements.txt changes, never at test time:

    python3 -m venv .venv && .venv/bin/pip install -r tests/interop/requirements.txt
    .venv/bin/python scripts/golden_keys.py > tests/golden/response-keys.json

How: for each action, the SDK's `<Action>ResponseBody` model is filled with a value in every
field (a model in every nested model, one item in every list), and its `to_map()` gives the
keys the SDK reads and writes. A key path is written `A.B[].C`: `[]` is a list's items, `{}`
a free-form map whose own keys the SDK does not model. tests/golden_keys.rs asks the emulator
for every action over HTTP and checks each raw answer's keys against these sets, so a key our
shared wire structs misspell cannot round-trip unnoticed.
"""

import json
import sys
import typing
from importlib.metadata import version

from alibabacloud_cloudapi20160714 import models as m

# The actions the emulator serves (crates/sim/src/handlers.rs ACTIONS).
ACTIONS = [
    "DescribeRegions", "DescribeApiGroups", "DescribeApiGroup", "DescribeApis", "DescribeApi",
    "DescribeDeployedApis", "DescribeDeployedApi", "DescribeHistoryApis", "DescribeApiHistories",
    "DescribeApiHistory", "DescribeApisByVpcAccess", "DescribeVpcAccesses", "SetVpcAccess",
    "RemoveVpcAccess", "RemoveVpcAccessAndAbolishApis", "DescribeAbolishApiTask",
    "DescribeBackendList", "DescribeBackendInfo", "DescribeApisByBackend",
]


def filled(cls, depth=0):
    """An instance of the SDK model `cls` with every field set."""
    if depth > 20:
        raise RuntimeError(f"{cls.__name__}: models nest too deep (a cycle?)")
    hints = typing.get_type_hints(cls.__init__)
    values = {name: sample(hint, depth) for name, hint in hints.items() if name != "return"}
    return cls(**values)


def sample(hint, depth):
    origin = typing.get_origin(hint)
    if origin in (list, typing.List):
        (item,) = typing.get_args(hint)
        return [sample(item, depth + 1)]
    if origin in (dict, typing.Dict):
        return {"__free_form__": "x"}
    if isinstance(hint, type) and hasattr(hint, "from_map"):
        return filled(hint, depth + 1)
    return {str: "x", int: 1, float: 1.0, bool: True}.get(hint, "x")


def paths(value, prefix=""):
    """Every key path of a to_map() result."""
    out = set()
    if isinstance(value, dict):
        if "__free_form__" in value:
            return {prefix + "{}"}
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out.add(path)
            out |= paths(child, path)
    elif isinstance(value, list):
        out.add(prefix + "[]")
        for child in value:
            out |= paths(child, prefix + "[]")
    return out


def main():
    keys = {}
    for action in ACTIONS:
        body = getattr(m, f"{action}ResponseBody")
        keys[action] = sorted(paths(filled(body).to_map()))
    json.dump({
        "source": f"alibabacloud-cloudapi20160714=={version('alibabacloud-cloudapi20160714')}"
                  " models, <Action>ResponseBody.to_map() (scripts/golden_keys.py)",
        "keys": keys,
    }, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
