"""The benchmark command runs and reports rates against a measured floor.
(Its figures are for people; this only checks the command works.)"""

from __future__ import annotations

import json

import pytest

from threads_desktop.cli.main import main


def test_bench_log_prints_rates_and_floors_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "log", "--events", "300", "--rounds", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["events"] == 300
    for name in ("append", "append_one_transaction_each", "ingest"):
        rates = result[name]
        assert rates["events_per_second"] > 0 and rates["floor_events_per_second"] > 0
        assert rates["ratio_to_floor"] > 0
    assert set(result["raw_per_second"]) >= {"ed25519_sign", "ed25519_verify_one_core", "aes_gcm_encrypt",
                                             "sha256", "sqlite_record_rows_batched"}
