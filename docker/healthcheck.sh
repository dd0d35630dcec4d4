#!/bin/bash
# lynx-healthcheck: the image's HEALTHCHECK. GET /health/ready of the lynxd in this container, where it listens;
# exit 0 only on 200 (recovering, a store that refuses writes after a failed fsync, or a full disk answer 503).
#
# Where and how, as lynxd itself decides: a flag on lynxd's command line (--host, --port, --tls-cert, --api-key,
# --api-key-file, --read-only-api-key, --read-only-api-key-file; read from /proc/PID/cmdline of the process named
# lynxd) wins over the environment (LYNX_HOST, LYNX_PORT, LYNX_TLS_CERT, LYNX_API_KEY, LYNX_API_KEY_FILE, and the
# read-only pair). 0.0.0.0 and :: are asked on 127.0.0.1 and ::1.
# TLS: https when a certificate is configured; the certificate is not verified (it names the service's public
# host, not 127.0.0.1, and the probe asks whether this lynxd answers, not who it is).
# The key goes to curl on stdin, not in its arguments (ps would show them).
#
# Usage: lynx-healthcheck [CMDLINE_FILE]   (a NUL-separated command line; default: the running lynxd's)
set -u

cmdline=${1:-}
if [[ -z $cmdline ]]; then
  for comm in /proc/[0-9]*/comm; do
    if [[ $(<"$comm") == lynxd ]] 2>/dev/null; then cmdline=${comm%/comm}/cmdline; break; fi
  done
fi

declare -A flag=()
if [[ -n $cmdline && -r $cmdline ]]; then
  mapfile -d '' args <"$cmdline"
  for ((i = 1; i < ${#args[@]}; i++)); do
    case ${args[i]} in
      --host=* | --port=* | --tls-cert=* | --api-key=* | --api-key-file=* | --read-only-api-key=* | --read-only-api-key-file=*)
        flag[${args[i]%%=*}]=${args[i]#*=} ;;
      --host | --port | --tls-cert | --api-key | --api-key-file | --read-only-api-key | --read-only-api-key-file)
        flag[${args[i]}]=${args[i + 1]:-}
        i=$((i + 1)) ;;
    esac
  done
fi

# The first line of a key file, trimmed (as lynxd reads it).
first_line() {
  local line=
  IFS= read -r line <"$1" || [[ -n $line ]] || return 1
  line=${line%$'\r'}
  line=${line#"${line%%[![:space:]]*}"}
  printf '%s' "${line%"${line##*[![:space:]]}"}"
}

# The key lynxd takes: its flag, its file flag, then the environment's, full key before the read-only one.
key=
for pair in "api-key:LYNX_API_KEY" "read-only-api-key:LYNX_READ_ONLY_API_KEY"; do
  name=${pair%%:*} env=${pair#*:}
  file_env=${env}_FILE
  if [[ -n ${flag[--$name]:-} ]]; then key=${flag[--$name]}
  elif [[ -n ${flag[--$name-file]:-} ]]; then key=$(first_line "${flag[--$name-file]}")
  elif [[ -n ${!env:-} ]]; then key=${!env}
  elif [[ -n ${!file_env:-} ]]; then key=$(first_line "${!file_env}")
  fi
  [[ -n $key ]] && break
done

host=${flag[--host]:-${LYNX_HOST:-127.0.0.1}}
case $host in
  0.0.0.0 | '') host=127.0.0.1 ;;
  :: | '[::]') host=::1 ;;
esac
[[ $host == *:* && $host != \[* ]] && host="[$host]"
port=${flag[--port]:-${LYNX_PORT:-7311}}
scheme=http
[[ -n ${flag[--tls-cert]:-${LYNX_TLS_CERT:-}} ]] && scheme=https

headers=
[[ -n $key ]] && headers="Authorization: Bearer $key"
status=$(printf '%s\n' "$headers" | curl --silent --show-error --insecure --noproxy '*' --max-time 4 \
  --header @- --output /dev/null --write-out '%{http_code}' "$scheme://$host:$port/health/ready")
[[ $status == 200 ]] && exit 0
echo "lynx-healthcheck: GET $scheme://$host:$port/health/ready answered ${status:-nothing}" >&2
exit 1
