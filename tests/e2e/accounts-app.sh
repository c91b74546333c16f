#!/bin/sh
# Starts the app connected to the test run's sandbox Aircall (from the
# environment) but with no OAuth client for JobAdder: no
# CALLCARD_JOBADDER_CLIENT_ID/_SECRET, and no redirect port either, so the
# sign-in comes back to JobAdder's default port as it would for a real user.
# Its secrets go to a keychain group of its own, its data to a home of its
# own (the test run's keychain and folders are throwaway ones), and
# "the browser" is a stand-in that follows the sandbox's sign-in page.
here="$(cd "$(dirname "$0")" && pwd)"
exec env -u CALLCARD_JOBADDER_CLIENT_ID -u CALLCARD_JOBADDER_CLIENT_SECRET -u CALLCARD_JOBADDER_REDIRECT_PORT \
  -u CALLCARD_SELLSY_CLIENT_ID \
  CALLCARD_KEYCHAIN_SERVICE="callcard-e2e-accounts" \
  CALLCARD_HOME="$CALLCARD_HOME-accounts" BROWSER="$here/stand-in-browser.mjs" "$CALLCARD_APP" "$@"
