from trialfinder import errors


def test_exit_codes__follow_sysexits() -> None:
    assert errors.TemporaryApiError("x").exit_code == 75
    assert errors.RateLimitedError("x").exit_code == 75
    assert errors.DataError("x").exit_code == 65
    assert errors.SanityCheckError("x").exit_code == 65
    assert errors.ConfigError("x").exit_code == 78
    assert errors.InvalidNctIdError("x").exit_code == 64
    assert errors.StudyNotFoundError("x").exit_code == 66
    assert errors.LockTimeoutError("x").exit_code == 75


def test_str__includes_hint() -> None:
    assert str(errors.TrialFinderError("boom", hint="try again")) == "boom (try again)"
    assert str(errors.TrialFinderError("boom")) == "boom"


def test_api_error__keeps_status_and_url() -> None:
    e = errors.BadRequestError("`filter.phase` is unknown parameter", status=400, url="http://x")
    assert e.status == 400 and e.url == "http://x"
    assert isinstance(e, errors.ApiError) and isinstance(e, errors.TrialFinderError)
