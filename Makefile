# sansip — the two commands a user needs are `make test` and `make demo`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test demo lint typecheck unit bench soak clean peers

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# System packages the tests need (third-party peers); installed only as root.
# A temporary policy-rc.d keeps apt from starting the system services.
APT_PACKAGES := sip-tester kamailio kamailio-tls-modules kamailio-presence-modules kamailio-sqlite-modules ffmpeg libopus0 libopusfile0 libogg0 libportaudio2 baresip baresip-core espeak-ng
peers:
	@if [ -n "$(APT_PACKAGES)" ] && [ "$$(id -u)" = 0 ]; then \
		missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then \
			printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
			status=$$?; rm -f /usr/sbin/policy-rc.d; exit $$status; \
		fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check sansip tests bench conformance docs examples
	$(VENV)/bin/ruff format --check sansip

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict sansip

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: peers lint typecheck unit

demo: $(STAMP)
	$(VENV)/bin/sansip demo

# Benchmarks print ratios against peers measured in the same run (minutes);
# the peers (baresip, SIPp, ffmpeg) come with `peers`.
bench: $(STAMP) peers
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) bench/bench_parse.py
	$(PY) bench/bench_cps.py
	$(PY) bench/bench_media.py
	$(PY) bench/bench_mixer.py
	$(PY) bench/bench_quality.py

# Property tests with many more examples, drawn at random (about 15 minutes).
soak: $(STAMP)
	SANSIP_EXAMPLE_SCALE=50 $(VENV)/bin/pytest -q -p no:cacheprovider --hypothesis-profile=dev \
		tests/message/test_properties.py tests/message/test_multipart.py \
		tests/message/test_auth.py tests/message/test_digest.py
	SANSIP_EXAMPLE_SCALE=20 $(VENV)/bin/pytest -q -p no:cacheprovider --hypothesis-profile=dev \
		tests/sdp tests/rtp tests/audio tests/media tests/server tests/transport tests/bodies \
		tests/dialog/test_properties.py tests/dialog/test_session_timer.py \
		tests/dialog/test_prack.py tests/dialog/test_subscription.py tests/dtls/test_fuzz.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build *.egg-info
