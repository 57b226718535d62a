import pytest

from models.risk import HIGH_RISK, MEDIUM_RISK, risk_band, risk_bands


@pytest.mark.parametrize(
    ("probability", "band"),
    [
        (0.0, "low"),
        (MEDIUM_RISK - 1e-9, "low"),
        (MEDIUM_RISK, "medium"),
        (HIGH_RISK, "high"),
        (1.0, "high"),
    ],
)
def test_risk_band_thresholds(probability: float, band: str) -> None:
    assert risk_band(probability) == band


def test_risk_band_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="probability must be in"):
        risk_band(1.5)


def test_risk_bands_vectorized_matches_scalar() -> None:
    values = [0.01, 0.2, 0.7]
    assert risk_bands(values) == [risk_band(v) for v in values]
