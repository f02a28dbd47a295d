#!/usr/bin/env bash
# `make deps`: the Debian packages of the browser tests, Chromium and a CJK
# font for the screenshots, with apt-get as root or through `sudo -n`.
# `make test` runs it when they are missing.
source "$(dirname "$0")/lib.sh"

if ! packages=$(browser_packages_missing); then
    say "Chromium and a CJK font are installed"
    exit 0
fi
can_apt_get || die "apt-get install $packages needs root or passwordless sudo: run it yourself"
apt=(apt-get)
[[ $(id -u) -eq 0 ]] || apt=(sudo -n apt-get)
say "apt-get install $packages (the browser tests' browser and font)"
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q --no-install-recommends $packages
