#!/bin/sh
# Starts the app as a new user would: no account connected (the test run's
# sandbox connection is removed, only the Aircall API address stays so a key
# typed in the connect window is checked against the sandbox), secrets in a
# keychain group of their own, so the demo runs.
exec env -u CALLCARD_AIRCALL_API_ID -u CALLCARD_AIRCALL_API_TOKEN -u CALLCARD_AIRCALL_USER_EMAIL \
  -u CALLCARD_JOBADDER_CLIENT_ID -u CALLCARD_JOBADDER_CLIENT_SECRET -u CALLCARD_SELLSY_CLIENT_ID \
  CALLCARD_KEYCHAIN_SERVICE="callcard-e2e-demo-$$" \
  CALLCARD_HOME="${CALLCARD_DEMO_HOME:-$CALLCARD_HOME}" "$CALLCARD_APP" "$@"
