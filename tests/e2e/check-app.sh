#!/bin/sh
# Starts the app with the test run's sandbox, but with its Aircall key taken
# from the keychain (as a user's is), not the environment: the setup check
# test puts a broken key there first, then fixes it in the connect window.
# JobAdder's client comes from the environment; "the browser" is a
# stand-in that follows the sandbox's sign-in page.
here="$(cd "$(dirname "$0")" && pwd)"
exec env -u CALLCARD_AIRCALL_API_ID -u CALLCARD_AIRCALL_API_TOKEN -u CALLCARD_SELLSY_CLIENT_ID \
  CALLCARD_KEYCHAIN_SERVICE="callcard-e2e-check" \
  CALLCARD_HOME="$CALLCARD_HOME-check" BROWSER="$here/stand-in-browser.mjs" "$CALLCARD_APP" "$@"
