"""The pods' memory is sized from the benchmark: the limit of the Deployment and of the CronJob covers the
largest measured peak in deploy/README.md ("Memory by archive size") with headroom, so the manifests and
the table cannot drift apart. Before, the limit was 256Mi while a 10,000-page archive peaks near 350 MB."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
HEADROOM = 1.25
MEBI = 1024 * 1024
UNITS = {"Ki": 1024, "Mi": MEBI, "Gi": 1024 * MEBI, "K": 1000, "M": 1000**2, "G": 1000**3}


def quantity(value: str) -> int:
    """A Kubernetes memory quantity in bytes."""
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(value)).groups()
    return int(float(number) * UNITS.get(unit or "", 1))


def measured_peaks_mb() -> dict[int, float]:
    """Pages -> the highest peak RSS (MB) measured for that archive size, from the table in deploy/README.md."""
    text = (DEPLOY / "README.md").read_text()
    section = text.split("### Memory by archive size", 1)[1].split("\n#", 1)[0]
    peaks = {}
    for row in re.findall(r"^\|\s*([\d,]+) pages.*$", section, re.MULTILINE):
        cells = section.split(f"| {row} pages", 1)[1].split("\n", 1)[0]
        numbers = [float(n) for n in re.findall(r"(\d+(?:\.\d+)?) MB", cells)]
        peaks[int(row.replace(",", ""))] = max(numbers)
    return peaks


def container(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    spec = doc["spec"]["template"]["spec"] if doc["kind"] == "Deployment" else \
        doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    return c


def test_the_readme_documents_memory_for_several_archive_sizes_up_to_10000_pages():
    peaks = measured_peaks_mb()
    assert len(peaks) >= 3 and max(peaks) >= 10_000, peaks
    sizes = sorted(peaks)
    assert [peaks[s] for s in sizes] == sorted(peaks[s] for s in sizes)  # more pages, more memory


@pytest.mark.parametrize("manifest", ["kubernetes/base/deployment.yaml", "kubernetes/cronjob/cronjob.yaml"])
def test_the_memory_limit_covers_the_largest_measured_peak_with_headroom(manifest):
    limit = quantity(container(DEPLOY / manifest)["resources"]["limits"]["memory"])
    peak = max(measured_peaks_mb().values()) * 1000**2
    assert limit >= HEADROOM * peak, f"{manifest}: limit {limit / MEBI:.0f}Mi < {HEADROOM} x {peak / 1e6:.0f} MB"
    request = quantity(container(DEPLOY / manifest)["resources"]["requests"]["memory"])
    assert request <= limit
