"""Per-version figures of stable and canary, from the predictors' own /metrics pages or from a
Prometheus server, and the shadow comparison of decisions.

Sources:
- scrape: GET <url>/metrics of each stable and each canary predictor (several URLs per side
  are summed: one per pod). With a window, two scrapes `window` seconds apart and their
  difference (a counter that went down, i.e. a restarted process, counts from zero); without,
  one scrape of the totals since each process started.
- prometheus: `GET <prometheus>/api/v1/query` with `sum by (...) (increase(<series>{<matchers>}[<window>s]))`
  per series, the matchers picking the version (`model_version="2"`) plus any extra matchers
  (`namespace="ml"`); without a window, the plain sums of the counters.

Shadow: GET <url>/v2/models/<name>/decisions of every stable and canary predictor (the
decision log of kserve_model/metrics.py), joined on request id; a row flips when the two
decisions of the same row of the same request differ.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from credit_model import metric_names as names
from rollout.figures import Figures, psi
from rollout.promtext import DECISIONS, LATENCY, REQUESTS, ROWS, SCORE, parse_le, parse_metrics, select


def parse_window(text: str | float | int | None) -> float:
    """Seconds from '300', '300s', '5m', '1h' (0 or empty: no window)."""
    if text in (None, ""):
        return 0.0
    if isinstance(text, (int, float)):
        return float(text)
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip()
    if text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def metrics_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/metrics") else f"{base}/metrics"


def base_url(url: str) -> str:
    return url.rstrip("/").removesuffix("/metrics")


@dataclass
class Side:
    """One side (stable or canary) of an analysis: where its figures come from."""

    urls: list[str] = field(default_factory=list)
    version: str | None = None
    """Only series of this model_version (None: every version found at the URLs)."""
    matchers: str | None = None
    """Prometheus source: label matchers of this side (default model_name and model_version)."""


class ScrapeSource:
    name = "scrape"

    def __init__(self, client: httpx.Client, model_name: str | None = None) -> None:
        self.client, self.model_name = client, model_name

    def scrape(self, side: Side) -> list[tuple[Figures, list[str]]]:
        """Per URL: the figures of the side's version, and the versions seen there."""
        out = []
        for url in side.urls:
            r = self.client.get(metrics_url(url))
            r.raise_for_status()
            parsed = parse_metrics(r.text)
            versions = sorted({v for (n, v) in parsed if self.model_name in (None, n)})
            out.append((select(parsed, self.model_name, side.version), versions))
        return out

    def figures(self, stable: Side, canary: Side, window: float, sleep: Callable[[float], None] = time.sleep
                ) -> tuple[Figures, Figures, dict]:
        first = (self.scrape(stable), self.scrape(canary))
        if window <= 0:
            totals = [_sum(f for f, _ in side) for side in first]
            return totals[0], totals[1], {"versions": [_versions(side) for side in first]}
        sleep(window)
        second = (self.scrape(stable), self.scrape(canary))
        deltas = [_sum(b - a for (a, _), (b, _) in zip(s0, s1)) for s0, s1 in zip(first, second)]
        return deltas[0], deltas[1], {"versions": [_versions(side) for side in second]}


def _sum(figures) -> Figures:  # noqa: ANN001
    total = Figures()
    for f in figures:
        total = total + f
    return total


def _versions(side: list[tuple[Figures, list[str]]]) -> list[str]:
    return sorted({v for _, versions in side for v in versions})


class PrometheusSource:
    name = "prometheus"

    def __init__(self, client: httpx.Client, url: str, model_name: str = "credit-score", selector: str | None = None) -> None:
        self.client, self.url, self.model_name, self.selector = client, url.rstrip("/"), model_name, selector

    def matchers(self, side: Side) -> str:
        if side.matchers:
            parts = [side.matchers]
        else:
            if side.version is None:
                raise ValueError("the Prometheus source needs the model version of each side (--stable-version/--canary-version, "
                                 "or --release to read them from the cluster) or explicit matchers")
            parts = [f'{names.MODEL_NAME_LABEL}="{self.model_name}"', f'{names.MODEL_VERSION_LABEL}="{side.version}"']
        if self.selector:
            parts.append(self.selector)
        return ",".join(parts)

    def query(self, expr: str) -> list[dict]:
        r = self.client.get(f"{self.url}/api/v1/query", params={"query": expr})
        r.raise_for_status()
        body = r.json()
        if body.get("status") != "success":
            raise RuntimeError(f"Prometheus query {expr!r} failed: {body.get('error', body)}")
        return body["data"]["result"]

    def _by(self, series: str, matchers: str, window: float, by: str | None) -> list[tuple[str | None, float]]:
        inner = f"increase({series}{{{matchers}}}[{int(window)}s])" if window > 0 else f"{series}{{{matchers}}}"
        expr = f"sum by ({by}) ({inner})" if by else f"sum({inner})"
        return [((item["metric"].get(by) if by else None), float(item["value"][1])) for item in self.query(expr)]

    def _gauge_by(self, series: str, matchers: str, by: str) -> list[tuple[str | None, float]]:
        return [(item["metric"].get(by), float(item["value"][1]))
                for item in self.query(f"max by ({by}) ({series}{{{matchers}}})")]

    def side(self, side: Side, window: float) -> Figures:
        m = self.matchers(side)
        f = Figures()
        f.requests = {k or "": v for k, v in self._by(REQUESTS, m, window, names.OUTCOME_LABEL)}
        f.decisions = {k or "": v for k, v in self._by(DECISIONS, m, window, names.DECISION_LABEL)}
        f.rows = sum(v for _, v in self._by(ROWS, m, window, None))
        # a gauge over the predictor's own window: its latest value, the largest over pods
        f.input_psi = {k or "": v for k, v in self._gauge_by(names.INPUT_PSI, m, names.FEATURE_LABEL)}
        for series, hist in ((LATENCY, f.latency), (SCORE, f.score)):
            hist.buckets = {parse_le(k): v for k, v in self._by(f"{series}_bucket", m, window, names.BUCKET_LABEL) if k is not None}
            hist.sum = sum(v for _, v in self._by(f"{series}_sum", m, window, None))
        return f

    def figures(self, stable: Side, canary: Side, window: float, sleep: Callable[[float], None] = time.sleep
                ) -> tuple[Figures, Figures, dict]:
        return self.side(stable, window), self.side(canary, window), {
            "matchers": [self.matchers(stable), self.matchers(canary)]}


# -- shadow: pairing decisions by request id --------------------------------------------------

def fetch_decisions(client: httpx.Client, urls: list[str], model_name: str, not_before: float | None = None) -> dict[str, list[str]]:
    """Request id -> decisions per row, from every URL's decision log (paged with `since`)."""
    out: dict[str, list[str]] = {}
    for url in urls:
        since = 0
        while True:
            r = client.get(f"{base_url(url)}/v2/models/{model_name}/decisions", params={"since": since, "limit": 5000})
            r.raise_for_status()
            body = r.json()
            for rec in body["records"]:
                if not_before is None or rec["time"] >= not_before:
                    out[rec["id"]] = rec["decisions"]
            if not body["records"] or body["next"] == since:
                break
            since = body["next"]
    return out


def compare_decisions(stable: dict[str, list[str]], canary: dict[str, list[str]]) -> dict:
    """Join on request id; the share of paired rows whose decision differs, and which way."""
    paired_requests = paired_rows = flipped = mismatched = 0
    directions: dict[str, int] = {}
    for rid in stable.keys() & canary.keys():
        a, b = stable[rid], canary[rid]
        if len(a) != len(b):
            mismatched += 1
            continue
        paired_requests += 1
        paired_rows += len(a)
        for x, y in zip(a, b):
            if x != y:
                flipped += 1
                directions[f"{x}->{y}"] = directions.get(f"{x}->{y}", 0) + 1
    return {
        "paired_requests": paired_requests,
        "paired_rows": paired_rows,
        "flipped_rows": flipped,
        "share": flipped / paired_rows if paired_rows else None,
        "stable_only": len(stable.keys() - canary.keys()),
        "canary_only": len(canary.keys() - stable.keys()),
        "row_count_mismatch": mismatched,
        "directions": dict(sorted(directions.items())),
    }


# -- the analysis -----------------------------------------------------------------------------

@dataclass
class Analysis:
    source: str
    window_seconds: float
    stable: Figures
    canary: Figures
    stable_version: str | None
    canary_version: str | None
    shadow: bool = False
    decision_flips: dict | None = None
    rollout: dict | None = None
    """The live status the analysis was made for (mode, canary_percent, ...), when read from the cluster."""
    detail: dict = field(default_factory=dict)

    @property
    def psi(self) -> float | None:
        return psi(self.stable.score, self.canary.score)

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "window_seconds": self.window_seconds,
            "shadow": self.shadow,
            "stable": {"version": self.stable_version, **self.stable.summary()},
            "canary": {"version": self.canary_version, **self.canary.summary()},
            "psi": self.psi,
            "decision_flips": self.decision_flips,
            "rollout": self.rollout,
            **self.detail,
        }


def run_analysis(source: ScrapeSource | PrometheusSource, stable: Side, canary: Side, window: float,
                 shadow_client: httpx.Client | None = None, model_name: str = "credit-score",
                 sleep: Callable[[float], None] = time.sleep, rollout: dict | None = None) -> Analysis:
    started = time.time()
    s, c, detail = source.figures(stable, canary, window, sleep)
    versions = detail.get("versions")
    flips = None
    if shadow_client is not None:
        not_before = started if (window > 0 and source.name == "scrape") else (time.time() - window if window > 0 else None)
        flips = compare_decisions(fetch_decisions(shadow_client, stable.urls, model_name, not_before),
                                  fetch_decisions(shadow_client, canary.urls, model_name, not_before))
    return Analysis(
        source=source.name, window_seconds=window, stable=s, canary=c,
        stable_version=stable.version or (",".join(versions[0]) if versions else None),
        canary_version=canary.version or (",".join(versions[1]) if versions else None),
        shadow=shadow_client is not None, decision_flips=flips, rollout=rollout, detail=detail,
    )


def _num(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def format_table(a: dict) -> str:
    """The human part of `analyze`: one column per side."""
    rows = [("", "stable", "canary")]
    for label, key, fmt in (("version", "version", None), ("requests", "requests", "d"), ("ok", "ok", "d"),
                            ("invalid (400)", "invalid", "d"), ("errors (500)", "errors", "d"),
                            ("error rate", "error_rate", ".4f"), ("invalid rate", "invalid_rate", ".4f"),
                            ("p99 latency ms", "p99_seconds", "ms"), ("rows", "rows", "d"), ("mean score", "mean_score", ".1f"),
                            ("max input PSI", "max_input_psi", ".4f"), ("  of input", "max_input_psi_feature", None)):
        cells = []
        for side in ("stable", "canary"):
            v = a[side].get(key)
            cells.append(str(v) if fmt is None else (_num(v * 1000, ".2f") if fmt == "ms" and v is not None
                                                     else _num(v, fmt if fmt != "ms" else ".2f")))
        rows.append((label, *cells))
    decisions = sorted(set(a["stable"]["decisions"]) | set(a["canary"]["decisions"]))
    for d in decisions:
        rows.append((f"decision {d}", str(a["stable"]["decisions"].get(d, 0)), str(a["canary"]["decisions"].get(d, 0))))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"source {a['source']}, window " + (f"{a['window_seconds']:g} s" if a["window_seconds"] else "totals since start")]
    lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.append(f"score PSI (canary vs stable): {_num(a['psi'], '.4f')}")
    f = a.get("decision_flips")
    if f:
        lines.append(f"shadow: {f['paired_requests']} paired requests, {f['paired_rows']} rows, {f['flipped_rows']} flipped "
                     f"(share {_num(f['share'], '.4f')}); unpaired stable {f['stable_only']}, canary {f['canary_only']}"
                     + (f"; {', '.join(f'{k} {v}' for k, v in f['directions'].items())}" if f["directions"] else ""))
    return "\n".join(lines)
