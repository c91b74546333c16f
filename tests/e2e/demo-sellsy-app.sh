#!/bin/sh
# The demo launcher with a home of its own: the Sellsy demo test chooses
# Sellsy as the CRM in its settings, apart from the JobAdder demo's home.
CALLCARD_DEMO_HOME="${CALLCARD_DEMO_HOME:-$CALLCARD_HOME}-sellsy"
export CALLCARD_DEMO_HOME
exec "$(dirname "$0")/demo-app.sh" "$@"
