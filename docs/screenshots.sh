#!/usr/bin/env bash
# The README's pictures: the example page as mailpage mails it, in headless Chromium (Debian's
# chromium package), light and dark. Run from the repository root with mailpage installed.
set -euo pipefail
out=docs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
MAILPAGE_SENDER_NAME="Ann Example" MAILPAGE_SENDER_ADDRESS=ann@example.com \
MAILPAGE_CONFLUENCE_URL=https://acme.atlassian.net \
    mailpage preview examples/export/Release-notes-2.4_98487.html --html "$work/mail.html" \
    --message 'Ships **Tuesday** — please read the upgrade window.'
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars --window-size=760,1700)
chromium "${flags[@]}" --user-data-dir="$work/light" --blink-settings=preferredColorScheme=1 \
    --screenshot="$out/mail-light.png" "file://$work/mail.html" 2>/dev/null
chromium "${flags[@]}" --user-data-dir="$work/dark" --force-dark-mode \
    --blink-settings=preferredColorScheme=0 \
    --screenshot="$out/mail-dark.png" "file://$work/mail.html" 2>/dev/null
echo "wrote $out/mail-light.png and $out/mail-dark.png"
