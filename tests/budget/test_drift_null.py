"""Under the null (new data drawn from the recorded distribution) drift says "drifted" at most
alpha of the time, whatever the sample sizes, the number of features or their kind.

Each case draws 150 times: a true rate of 5% gives about 7 alarms (more than 18, 12%, has a chance
under 1e-4), a true rate of 20% about 30 (18 or fewer: under 1%), so the bound tells them apart.
"""

from __future__ import annotations

import pytest

from tests.helpers.driftdraws import KINDS, alarm_rate

DRAWS = 150
BOUND = 0.12
SIZES = ((200, 50), (1000, 400), (2000, 3000))  # (recorded samples, new samples)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_false_alarms_stay_at_alpha_at_every_sample_size(kind: str) -> None:
    rates = {
        sizes: alarm_rate(KINDS[kind], recorded=sizes[0], new=sizes[1], draws=DRAWS, seed=index)
        for index, sizes in enumerate(SIZES)
    }
    assert all(rate <= BOUND for rate in rates.values()), rates
