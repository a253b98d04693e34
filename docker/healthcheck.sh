#!/bin/bash
# The image's HEALTHCHECK: healthy while `ferry run` answers on its status port ($FERRY_METRICS_PORT, /status).
# Bash's /dev/tcp, so the image needs no curl. With the port set to 0 there is nothing to ask: healthy.
set -u
port=${FERRY_METRICS_PORT:-0}
[ "$port" = 0 ] && exit 0
exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "ferry's status port $port does not answer"; exit 1; }
printf 'GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
IFS= read -r -t 4 status <&3 || { echo "no answer from /status on port $port"; exit 1; }
case "$status" in
  *" 200 "*) IFS= read -r -d '' -t 1 body <&3; echo "${body##*$'\r\n\r\n'}"; exit 0 ;;
  *) echo "/status on port $port answered: $status"; exit 1 ;;
esac
