#!/bin/sh
# Render the weighted-upstream config from the environment, check it, run nginx in the foreground.
set -eu
case "${STABLE_WEIGHT:-}${CANARY_WEIGHT:-}" in *[!0-9]*|'') echo "gateway: STABLE_WEIGHT and CANARY_WEIGHT must be integers" >&2; exit 2;; esac
[ "$STABLE_WEIGHT" -ge 1 ] && [ "$CANARY_WEIGHT" -ge 1 ] || { echo "gateway: weights must be >= 1 (remove the canary service for 100:0)" >&2; exit 2; }
sed -e "s/@STABLE_WEIGHT@/$STABLE_WEIGHT/g" -e "s/@CANARY_WEIGHT@/$CANARY_WEIGHT/g" \
    /etc/nginx/templates/gateway.conf.template > /etc/nginx/conf.d/gateway.conf
echo "gateway: stable:canary = $STABLE_WEIGHT:$CANARY_WEIGHT" >&2
nginx -t
exec nginx -g 'daemon off;'
