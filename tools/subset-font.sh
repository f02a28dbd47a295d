#!/usr/bin/env bash
# Regenerates shared/poster/assets/fonts/NotoSansCJKsc-Bold-subset.otf, the only font the poster
# PNG renderer loads. Run by hand after `apt-get update` (it downloads a Debian package and
# fonttools from PyPI); CI never runs it, it uses the committed file.
set -euo pipefail

DEB_VERSION='1:20220127+repack1-1'   # fonts-noto-cjk in Debian 12 (bookworm)
FONTTOOLS_VERSION='4.68.0'
TTC_INDEX=2                          # NotoSansCJK-Bold.ttc: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK

repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/shared/poster/assets/fonts/NotoSansCJKsc-Bold-subset.otf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

apt-get download "fonts-noto-cjk=$DEB_VERSION"
dpkg-deb -x fonts-noto-cjk_*.deb deb
python3 -m venv venv
venv/bin/pip install --quiet "fonttools==$FONTTOOLS_VERSION"

# Every character of GB 2312 (symbols, full-width forms, kana, and hanzi levels 1 and 2),
# enumerated from Python's codec, plus the few characters of Chinese division names
# (GB/T 2260) that GB 2312 lacks, so any county name in an address renders.
venv/bin/python - > chars.txt <<'PY'
chars = []
for hi in range(0xA1, 0xF8):
    for lo in range(0xA1, 0xFF):
        try:
            chars.append(bytes([hi, lo]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
print("".join(chars) + "埇沚浉瀍猇硚鄠", end="")
PY

# ASCII, Latin-1, general punctuation, CJK symbols and punctuation, half- and full-width
# forms. Only `kern` is kept: the other features (vertical forms, locale variants) pull in
# thousands of alternate glyphs that horizontal Simplified Chinese never uses; hinting and
# the vertical metrics tables are dropped for the same reason.
venv/bin/pyftsubset deb/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc \
  --font-number="$TTC_INDEX" \
  --text-file=chars.txt \
  --unicodes='U+0020-007E,U+00A0-00FF,U+2010-2027,U+3000-303F,U+FF00-FFEF' \
  --layout-features=kern \
  --no-hinting \
  --drop-tables+=vmtx,vhea,VORG,BASE \
  --name-IDs='*' \
  --output-file="$out"

ls -l "$out"
sha256sum "$out"
