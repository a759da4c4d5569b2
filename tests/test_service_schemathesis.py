"""schemathesis generates requests from the OpenAPI document (valid and invalid ones) against the whole app
`floodwall serve` builds (API, reviewer console, status page, operator routes): no server error, and every
status code it answers is documented."""

from __future__ import annotations

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, status_code_conformance
from service_helpers import bearer

from floodwall.service.serve import build_app


def test_no_operation_returns_a_server_error_or_an_undocumented_status(tmp_path):
    app = build_app(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)  # what `floodwall serve` runs
    backend, keys = app.state.backend, app.state.keys
    admin, _ = keys.create("fuzz", ["admin"], rate=1e6, burst=1e6)
    failures: list[str] = []
    calls = 0
    statuses: dict[int, int] = {}
    with TestClient(app):  # runs the lifespan: the engine loop handles what the fuzzer ingests
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        ops = [r.ok() for r in schema.get_all_operations()]
        assert len(ops) >= 28  # the API's operations and the console's, status page's and operators'
        for op in ops:
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

                @settings(max_examples=12, deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck))
                @given(case=op.as_strategy(generation_mode=mode))
                def run(case) -> None:
                    nonlocal calls
                    headers = {**(case.headers or {}), **bearer(admin)}
                    response = case.call(headers=headers)
                    calls += 1
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    try:
                        case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
                    except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a group of check failures
                        # run() is called at once below, so op and mode are the loop's current ones
                        failures.append(f"{op.method.upper()} {op.path} ({mode.value}) -> "  # noqa: B023
                                        f"{response.status_code}: {str(exc)[:300]}")

                run()
        backend.loop.run_once()  # whatever the fuzzer queued also goes through the engine
    assert backend.loop.errors == 0, "the engine failed on a batch the API had accepted"
    print(calls, sorted(statuses.items()))
    assert calls > 300
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:15])
