from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tasks.registry import (
    CHALLENGER,
    CHAMPION,
    GateDecision,
    champion_history,
    gate_version,
    register_version,
    registry_client,
    rollback_champion,
)
from tasks.training import Evaluation, LoggedRun
from tests.model.synthetic import SPEC, make_training_set, train_and_log

NAME = "churn-model"


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_training_set(rows_per_cutoff=250)


def _new_version(frame: pd.DataFrame) -> tuple[str, Evaluation, LoggedRun]:
    _, evaluation, logged = train_and_log(frame)
    version = register_version(
        logged, metrics=evaluation.metrics, definitions_hash=SPEC.definitions_hash
    )
    return version, evaluation, logged


def _gate(version: str, evaluation: Evaluation, **kw: float | None) -> GateDecision:
    params = {"min_auc": 0.6, "tolerance": 0.01} | kw
    return gate_version(
        version=version,
        candidate_auc=evaluation.metrics["roc_auc"],
        holdout=evaluation.reference,
        definitions_hash=SPEC.definitions_hash,
        **params,
    )


def _aliases() -> dict[str, str]:
    aliases = registry_client().get_registered_model(NAME).aliases
    return {alias: str(version) for alias, version in aliases.items()}


def _tags(version: str) -> dict[str, str]:
    return dict(registry_client().get_model_version(NAME, version).tags)


def test_register_model_tags_version_with_hash_and_run(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    version, evaluation, logged = _new_version(frame)
    assert version == "1"
    tags = _tags(version)
    assert tags["features.definitions_hash"] == SPEC.definitions_hash
    assert tags["run_id"] == logged.run_id
    assert float(tags["holdout.roc_auc"]) == pytest.approx(evaluation.metrics["roc_auc"], abs=1e-6)


def test_gate_first_model_above_min_auc_becomes_champion(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    version, evaluation, _ = _new_version(frame)
    decision = _gate(version, evaluation)
    assert decision.decision == "promoted"
    assert "first model" in decision.reason
    assert _aliases() == {CHAMPION: version}
    tags = _tags(version)
    assert tags["gate.decision"] == "promoted"
    assert tags["gate.champion_version"] == "none"
    assert tags["gate.champion_auc"] == "none"
    assert float(tags["gate.candidate_auc"]) == pytest.approx(evaluation.metrics["roc_auc"])
    assert [r.version for r in champion_history()] == [version]


@pytest.mark.parametrize("margin", [-0.001, 0.001])  # just under, just over the gain
def test_gate_first_model_against_the_baseline_recorded_on_the_version(
    sqlite_registry: Path, frame: pd.DataFrame, margin: float
) -> None:
    _, evaluation, logged = train_and_log(frame)
    assert evaluation.baseline is not None
    baseline, auc = evaluation.baseline.roc_auc, evaluation.metrics["roc_auc"]
    version = register_version(
        logged,
        metrics=evaluation.metrics,
        definitions_hash=SPEC.definitions_hash,
        baseline_auc=baseline,
    )
    assert float(_tags(version)["baseline.roc_auc"]) == pytest.approx(baseline, abs=1e-6)
    gain = round(auc - baseline, 6) + margin  # the rounding of the tag: 1e-6 off at most
    decision = _gate(version, evaluation, min_auc=None, min_baseline_gain=gain)
    assert decision.decision == ("promoted" if margin < 0 else "rejected")
    assert decision.baseline_auc == pytest.approx(baseline, abs=1e-6)
    assert f"roc_auc {auc:.4f}" in decision.reason and f"baseline {baseline:.4f}" in decision.reason
    assert float(_tags(version)["gate.baseline_auc"]) == pytest.approx(baseline, abs=1e-6)


def test_gate_below_min_auc_becomes_challenger_with_reason(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    version, evaluation, _ = _new_version(frame)
    decision = _gate(version, evaluation, min_auc=0.99)
    assert decision.decision == "rejected"
    assert _aliases() == {CHALLENGER: version}
    tags = _tags(version)
    assert tags["gate.decision"] == "rejected"
    assert "< min_auc 0.9900" in tags["gate.reason"]
    assert champion_history() == []


def test_gate_candidate_worse_than_rescored_champion_is_rejected(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    good, good_eval, _ = _new_version(frame)
    _gate(good, good_eval)
    # a weak candidate: trained on shuffled labels, evaluated on a subset of the real holdout
    holdout_at = frame["as_of"] == frame["as_of"].max()
    noise = frame.loc[~holdout_at, "label"].sample(frac=1, random_state=3).to_numpy()
    weak = pd.concat([frame.loc[~holdout_at].assign(label=noise), frame.loc[holdout_at].iloc[:150]])
    bad, bad_eval, _ = _new_version(weak)
    decision = _gate(bad, bad_eval, min_auc=0.0)
    assert decision.decision == "rejected"
    assert decision.champion_version == good
    # the champion was re-scored on the candidate's holdout rows, not read from its own run
    subset = good_eval.reference.iloc[:150]
    assert decision.champion_auc == pytest.approx(roc_auc_score(subset["label"], subset["score"]))
    assert decision.champion_auc != pytest.approx(good_eval.metrics["roc_auc"])
    assert _aliases() == {CHAMPION: good, CHALLENGER: bad}
    assert f"champion v{good}" in _tags(bad)["gate.reason"]
    assert float(_tags(bad)["gate.champion_auc"]) == pytest.approx(decision.champion_auc)


def test_gate_rerun_on_unchanged_data_registers_but_keeps_the_champion(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    first, evaluation, _ = _new_version(frame)
    _gate(first, evaluation)
    second, evaluation2, _ = _new_version(frame)  # same data + seed: same model, same AUC
    decision = _gate(second, evaluation2, tolerance=0.05)
    assert (decision.decision, decision.situation) == ("rejected", "same")
    auc = evaluation2.metrics["roc_auc"]
    assert decision.champion_auc == pytest.approx(auc)
    assert decision.reason.startswith("not better on the same data")
    assert f"roc_auc {auc:.4f} <= champion v{first} {auc:.4f} + min_gain 0.0020" in decision.reason
    assert _aliases() == {CHAMPION: first, CHALLENGER: second}
    assert [r.version for r in champion_history()] == [first]


def test_gate_newer_data_within_tolerance_is_promoted(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    first, evaluation, _ = _new_version(frame)
    _gate(first, evaluation)
    second, evaluation2, _ = _new_version(frame)
    # the candidate's labels end later than the champion's (as a retrain on newer data would)
    registry_client().set_model_version_tag(NAME, first, "data.trained_through", "2000-01-01")
    decision = _gate(second, evaluation2, tolerance=0.0)
    assert (decision.decision, decision.situation) == ("promoted", "newer")
    assert decision.champion_auc == pytest.approx(evaluation2.metrics["roc_auc"])
    assert _aliases()[CHAMPION] == second
    assert [r.version for r in champion_history()] == [first, second]


def test_gate_champion_on_other_definitions_is_not_compared(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    first, evaluation, _ = _new_version(frame)
    _gate(first, evaluation)
    registry_client().set_model_version_tag(NAME, first, "features.definitions_hash", "old")
    second, evaluation2, _ = _new_version(frame)
    decision = _gate(second, evaluation2)
    assert decision.decision == "promoted"
    assert decision.champion_auc is None
    assert "feature definitions old" in decision.reason


def test_gate_same_version_twice_raises(sqlite_registry: Path, frame: pd.DataFrame) -> None:
    version, evaluation, _ = _new_version(frame)
    _gate(version, evaluation)
    with pytest.raises(ValueError, match="already gated"):
        _gate(version, evaluation)


def test_gate_puts_back_a_champion_alias_moved_by_hand(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    first, evaluation, _ = _new_version(frame)
    _gate(first, evaluation)
    second, evaluation2, _ = _new_version(frame)
    registry_client().set_registered_model_alias(NAME, CHAMPION, second)  # outside the gate
    decision = _gate(second, evaluation2)
    # the alias follows the committed history, not the hand edit: v2 was compared with v1
    # (same data, not better) and v1 stays champion
    assert decision.champion_version == first and decision.decision == "rejected"
    assert _aliases() == {CHAMPION: first, CHALLENGER: second}
    assert [r.version for r in champion_history()] == [first]


def test_gate_refuses_a_holdout_inside_the_champions_training_window(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    first, evaluation, _ = _new_version(frame)
    _gate(first, evaluation)
    # a candidate evaluated on an earlier cutoff, whose labels the champion trained on
    earlier = frame.loc[frame["as_of"] < frame["as_of"].max()]
    second, evaluation2, _ = _new_version(earlier)
    decision = _gate(second, evaluation2)
    assert decision.decision == "rejected"
    assert decision.reason.startswith("refused: cannot compare like with like")
    assert _aliases() == {CHAMPION: first, CHALLENGER: second}


def test_rollback_walks_the_champion_history_back(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    versions = []
    # every version is trained on the same data: a negative min_gain lets each one through, so
    # the champion history grows without building three data sets
    for _ in range(3):
        version, evaluation, _ = _new_version(frame)
        _gate(version, evaluation, min_gain=-1.0)
        versions.append(version)
    assert _aliases()[CHAMPION] == versions[2]

    result = rollback_champion.fn(reason="bad canary")
    assert (result.from_version, result.to_version) == (versions[2], versions[1])
    assert _aliases()[CHAMPION] == versions[1]
    tags = _tags(versions[2])
    assert tags["champion.rollback_reason"] == "bad canary"
    assert tags["champion.rolled_back_to"] == versions[1]
    assert "champion.restored_at" in _tags(versions[1])

    assert rollback_champion.fn().to_version == versions[0]
    assert _aliases()[CHAMPION] == versions[0]
    with pytest.raises(RuntimeError, match="nothing to roll back to"):
        rollback_champion.fn()
    # a new promotion after rollbacks stacks on the restored champion
    version, evaluation, _ = _new_version(frame)
    _gate(version, evaluation, min_gain=-1.0)
    assert rollback_champion.fn().to_version == versions[0]


def test_rollback_on_an_empty_registry_raises(sqlite_registry: Path) -> None:
    with pytest.raises(RuntimeError, match="nothing to roll back to"):
        rollback_champion.fn()


def test_rollback_without_champion_raises(sqlite_registry: Path, frame: pd.DataFrame) -> None:
    _new_version(frame)  # registered, never gated
    with pytest.raises(RuntimeError, match="nothing to roll back to"):
        rollback_champion.fn()


def test_gate_reads_an_older_champions_training_window_from_its_run(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    first, evaluation, _ = _new_version(frame)
    _gate(first, evaluation)
    # a version registered before versions carried data.trained_through
    registry_client().delete_model_version_tag(NAME, first, "data.trained_through")
    second, evaluation2, _ = _new_version(frame)
    decision = _gate(second, evaluation2)
    assert decision.champion_auc is not None  # compared, window taken from the run's tags
    assert (decision.decision, decision.situation) == ("rejected", "same")


def test_gate_compares_a_version_without_records_on_rows_after_its_registration(
    sqlite_registry: Path, frame: pd.DataFrame
) -> None:
    first, evaluation, logged = _new_version(frame)
    _gate(first, evaluation)
    # a version registered before versions recorded what they trained on, at all
    client = registry_client()
    client.delete_model_version_tag(NAME, first, "data.trained_through")
    for key in ("cutoffs.validation", "horizon_days"):
        client.delete_tag(logged.run_id, key)
    second, evaluation2, _ = _new_version(frame)
    # every holdout row is older than v1's registration: nothing to compare on, so the
    # candidate takes the first-model test instead of being refused for ever
    decision = _gate(second, evaluation2)
    assert decision.decision == "promoted" and decision.champion_auc is None
    assert "records no training data" in decision.reason
    recent = evaluation2.reference.assign(as_of=pd.Timestamp("2100-01-01"))
    third, evaluation3, _ = _new_version(frame)
    second_run = client.get_model_version(NAME, second).run_id
    client.delete_model_version_tag(NAME, second, "data.trained_through")
    for key in ("cutoffs.validation", "horizon_days"):
        client.delete_tag(second_run, key)
    decision = gate_version(
        version=third,
        candidate_auc=evaluation3.metrics["roc_auc"],
        holdout=recent,
        definitions_hash=SPEC.definitions_hash,
        min_auc=0.6,
        tolerance=0.01,
    )
    # rows after the registration exist: it is compared there, like with like
    assert decision.champion_version == second and decision.champion_auc is not None
    assert decision.decision == "promoted" and decision.situation == "newer"
