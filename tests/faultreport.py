"""The fault suite's tally: faults injected and survived, bad inputs tried, installs lost.

Tests of the fault suite carry `@pytest.mark.fault("<kind>")`; each one that runs
injects one fault, and it is survived when the test passes (every such test
asserts what surviving means for its fault). The hostile-input tests add how many
inputs they tried; the interruption tests report an earlier install that no
longer works as lost. The tally is printed at the end of the run and, with
PYBUILD12_FAULT_REPORT=FILE, written there as JSON (CI keeps it). Each test's
figures travel in its report's user_properties, so a run split over pytest-xdist's
workers adds up the same.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field


@dataclass
class Tally:
    injected: dict[str, int] = field(default_factory=dict)
    survived: dict[str, int] = field(default_factory=dict)
    bad_inputs: int = 0
    installs_lost: list[str] = field(default_factory=list)

    def record(self, kind: str, passed: bool) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        self.survived[kind] = self.survived.get(kind, 0) + int(passed)

    def tried(self, count: int) -> None:
        self.bad_inputs += count

    def lost(self, what: str) -> None:
        self.installs_lost.append(what)

    def as_json(self) -> dict:
        return {
            "faults_injected": sum(self.injected.values()),
            "faults_survived": sum(self.survived.values()),
            "by_kind": {k: {"injected": n, "survived": self.survived.get(k, 0)}
                        for k, n in sorted(self.injected.items())},
            "bad_inputs_tried": self.bad_inputs,
            "installs_lost": len(self.installs_lost),
            "lost": self.installs_lost,
        }

    def lines(self) -> list[str]:
        if not self.injected and not self.bad_inputs:
            return []
        data = self.as_json()
        out = [f"{kind:<24} {v['survived']:>4} of {v['injected']:>4} survived" for kind, v in data["by_kind"].items()]
        out.append(f"faults injected {data['faults_injected']}, survived {data['faults_survived']}, "
                   f"bad inputs tried {data['bad_inputs_tried']}, installs lost {data['installs_lost']}")
        return out

    def write(self) -> None:
        target = os.environ.get("PYBUILD12_FAULT_REPORT")
        if target and (self.injected or self.bad_inputs):
            with open(target, "w", encoding="utf-8") as fh:
                json.dump(self.as_json(), fh, indent=2)
                fh.write("\n")


    def add(self, properties) -> None:
        """Take what one test recorded (its report's user_properties: see `TestFaults`)."""
        for name, value in properties:
            if name == "fault":
                self.record(*value)
            elif name == "bad_inputs":
                self.tried(value)
            elif name == "installs_lost":
                self.lost(value)


class TestFaults:
    """What one test tells the tally, kept in the test's user_properties so that the
    figures reach the process that prints them, also from pytest-xdist's workers."""

    __test__ = False

    def __init__(self, node) -> None:
        self.node = node

    def tried(self, count: int) -> None:
        self.node.user_properties.append(("bad_inputs", count))

    def lost(self, what: str) -> None:
        self.node.user_properties.append(("installs_lost", what))


TALLY = Tally()
