"""Failover under load (issue: replicas): writers through a read-write entry over a primary and its
standby; the primary stops, the standby is promoted; the writers go on. The scenario is
Benchmarks/failover.py's (which reports the figures in RESULTS.md), here with 20 writers."""

import sys

import pytest

import support

sys.path.insert(0, str(support.REPO / "Benchmarks"))
import failover  # noqa: E402

pytestmark = [pytest.mark.sluice_only, pytest.mark.one_pool]


def test_failover_loses_no_committed_row_and_only_in_flight_writes_fail():
    result = failover.run(support.SLUICE_BIN, writers=20, port=55520, warmup=2.0, outage=1.0, after=4.0, pool_size=5)
    assert result["writes_committed"] > 100, result
    assert result["rows_lost"] == 0, result
    assert result["rows_unexpected"] == 0, result
    assert result["errors_before_stop"] == 0, result
    # Only transactions in flight when the primary went away fail: at most one per server.
    assert set(result["errors"]) <= {"08006"}, result
    assert sum(result["errors"].values()) <= result["pool_size"], result
    assert result["reconnects"] == 0, "no writer's connection was closed"
    assert result["idle_client_errors"] == 0, result
    assert result["first_write_after_promotion_s"] is not None and result["first_write_after_promotion_s"] < 3, result
    # The read entry's standby server saw the promotion (in_hot_standby off), was retired, and the
    # reader went on, without an error, on the promoted server.
    assert result["reader_in_recovery_before"] is True, result
    assert result["reader_in_recovery_after"] is False, result
    assert result["role_changes_logged"] >= 1, result
