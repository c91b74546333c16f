#!/bin/sh
# Starts the app connected to the test run's sandbox Aircall (from the
# environment), JobAdder signed in through the connect window ("the browser"
# is a stand-in that follows the sandbox's sign-in page), secrets in a
# keychain group of its own and data in a home of its own.
here="$(cd "$(dirname "$0")" && pwd)"
exec env -u CALLCARD_SELLSY_CLIENT_ID \
  CALLCARD_KEYCHAIN_SERVICE="callcard-e2e-hostile-$$" \
  CALLCARD_HOME="$CALLCARD_HOME-hostile" BROWSER="$here/stand-in-browser.mjs" "$CALLCARD_APP" "$@"
