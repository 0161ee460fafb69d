"""Model registry: idempotent registration and the champion/challenger promotion gate."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
FINGERPRINT_TAG = "training.fingerprint"


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str
    previous_champion: str | None


def find_version_by_fingerprint(client: MlflowClient, name: str, fingerprint: str) -> ModelVersion | None:
    """A version already trained from the same config and data (a retried Job), if any."""
    try:
        found = client.search_model_versions(f"name = '{name}' and tags.`{FINGERPRINT_TAG}` = '{fingerprint}'")
    except MlflowException as e:
        if "RESOURCE_DOES_NOT_EXIST" in str(e.error_code):
            return None
        raise
    return min(found, key=lambda v: int(v.version)) if found else None


def champion(client: MlflowClient, name: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def fairness_hold(min_air: float | None, floor: float | None) -> str | None:
    """The reason a version may not become champion on fairness grounds, or None. With a floor
    (which the config allows only beside data.protected), an AIR that could not be measured (no
    group with fairness.min_group_rows test rows) holds the version too: an unchecked gate is no gate."""
    if floor is None or (min_air is not None and min_air >= floor):
        return None
    if min_air is None:
        return f"no adverse impact ratio could be measured (no group large enough) for registry.min_air {floor}: never champion"
    return f"adverse impact ratio {min_air:.4f} < registry.min_air {floor} (four-fifths rule): never champion"


def apply_gate(client: MlflowClient, name: str, version: str, test_auc: float, tolerance: float,
               min_air: float | None = None, air_floor: float | None = None) -> GateDecision:
    """Alias the new version `challenger`; move `champion` to it if it is at least as good
    (test AUC >= champion's - tolerance) or there is no champion, and its lowest adverse impact
    ratio over the protected groups is at least `air_floor` (registry.min_air; unchecked when
    either is None). The decision is recorded as version tags so the registry itself explains
    every alias move."""
    client.set_registered_model_alias(name, CHALLENGER, version)
    if min_air is not None:
        client.set_model_version_tag(name, version, "fairness.min_air", f"{min_air:.6f}")
    current = champion(client, name)
    unfair = fairness_hold(min_air, air_floor)
    if unfair is not None:
        decision = GateDecision(False, unfair, current.version if current else None)
    elif current is None:
        decision = GateDecision(True, "no champion yet", None)
    else:
        champ_auc = float(current.tags.get("test_auc", "nan"))
        if math.isnan(champ_auc) or test_auc >= champ_auc - tolerance:
            decision = GateDecision(
                True,
                f"test AUC {test_auc:.4f} >= champion v{current.version} {champ_auc:.4f} - tolerance {tolerance}",
                current.version,
            )
        else:
            decision = GateDecision(
                False,
                f"test AUC {test_auc:.4f} < champion v{current.version} {champ_auc:.4f} - tolerance {tolerance}",
                current.version,
            )
    if decision.promoted:
        client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, "promotion.decision", "promoted" if decision.promoted else "held")
    client.set_model_version_tag(name, version, "promotion.reason", decision.reason)
    if decision.previous_champion:
        client.set_model_version_tag(name, version, "promotion.compared_to", decision.previous_champion)
    log.info("promotion gate for %s v%s: %s (%s)", name, version, "promoted" if decision.promoted else "held", decision.reason)
    return decision


def aliases_of(client: MlflowClient, name: str, version: str) -> list[str]:
    return sorted(client.get_model_version(name, version).aliases)
