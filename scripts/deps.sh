#!/usr/bin/env bash
# Installs what Callcard needs on Debian/Ubuntu, only what is missing, so that
# it is cheap to run every time.  Usage: scripts/deps.sh [run|test]
#   run   the libraries to build and run the app, plus the UI's npm packages
#   test  also Xvfb, dbus, gnome-keyring, WebKitWebDriver and tauri-driver
set -euo pipefail
cd "$(dirname "$0")/.."

want="${1:-run}"
build_pkgs=(pkg-config build-essential libssl-dev libwebkit2gtk-4.1-dev libgtk-3-dev
            libayatana-appindicator3-dev librsvg2-dev libxdo-dev libdbus-1-dev)
# A display server, a session bus and a keychain for machines that have none
# (servers, CI): the run script starts them only when the desktop lacks them.
headless_pkgs=(xvfb dbus dbus-x11 gnome-keyring libsecret-tools)
test_pkgs=(webkit2gtk-driver xdg-utils desktop-file-utils libglib2.0-bin procps rpm x11-apps x11-utils)

pkgs=("${build_pkgs[@]}" "${headless_pkgs[@]}")
[ "$want" = test ] && pkgs+=("${test_pkgs[@]}")

log() { printf '[deps] %s\n' "$*" >&2; }

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { log "apt-get not found: install ${missing[*]} by hand"; exit 1; }
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  log "installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { log "cargo not found: install Rust with rustup (https://rustup.rs), then run this again"; exit 1; }
command -v npm >/dev/null || { log "npm not found: install Node.js 20.19 or newer, then run this again"; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { log "Node.js $(node --version) is too old: the UI build needs 20.19 or newer"; exit 1; }

# The UI's packages, exactly as locked; skipped when the lockfile has not changed.
stamp=ui/node_modules/.callcard-lock
if [ ! -f "$stamp" ] || ! cmp -s ui/package-lock.json "$stamp"; then
  log "installing the UI's npm packages from ui/package-lock.json"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error)
  cp ui/package-lock.json "$stamp"
fi

if [ "$want" = test ]; then
  if ! command -v tauri-driver >/dev/null || ! tauri-driver --help 2>&1 | grep -q . ; then
    log "installing tauri-driver 2.1.0"
    cargo install tauri-driver --version 2.1.0 --locked --quiet
  fi
fi
