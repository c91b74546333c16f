#!/bin/sh
# Starts the app as a new user would: no account connected (the test run's
# sandbox connection is removed), so the built-in demo runs.
exec env -u CALLCARD_AIRCALL_API_ID -u CALLCARD_AIRCALL_API_TOKEN -u CALLCARD_AIRCALL_API_URL \
  -u CALLCARD_AIRCALL_USER_EMAIL -u CALLCARD_JOBADDER_CLIENT_ID -u CALLCARD_JOBADDER_CLIENT_SECRET \
  CALLCARD_HOME="${CALLCARD_DEMO_HOME:-$CALLCARD_HOME}" "$CALLCARD_APP" "$@"
