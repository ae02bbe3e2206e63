/**
 * The `berth-url PORT` helper mounted into container workspaces (and put on PATH for process
 * ones): prints the public URL of a container port from the injected BERTH_* variables, or with
 * `--base-path` its public base path (what a tool is told as its base: Jupyter's base_url, Vite's
 * `base`; the same value as BERTH_BASE_PATH_<port>). POSIX sh only, so it works in busybox and
 * Debian images alike.
 */
export const BERTH_URL_SCRIPT = `#!/bin/sh
# berth-url [--base-path] [PORT] - print the public URL of one of this workspace's ports (default: $PORT),
# or with --base-path its public base path (/prefix/hosted/ID/HOSTPORT/), e.g. for Jupyter's base_url
what=url
case "\${1:-}" in
  --base-path|-b) what=path; shift ;;
  --url) shift ;;
  -h|--help) echo "usage: berth-url [--base-path] [PORT]  (PORT: a container port, e.g. 8000; default \\$PORT)"; exit 0 ;;
esac
port="\${1:-\${PORT:-}}"
case "$port" in
  ''|*[!0-9]*) echo "usage: berth-url [--base-path] PORT (a container port, e.g. 8000)" >&2; exit 2 ;;
esac
old_ifs="$IFS"; IFS=','
for m in $BERTH_PORT_MAPPINGS; do
  c="\${m%%:*}"; h="\${m##*:}"
  if [ "$c" = "$port" ]; then
    IFS="$old_ifs"
    base="$BERTH_HOSTING_BASE_PATH/hosted/$BERTH_WORKSPACE_ID/$h/"
    if [ "$what" = path ]; then
      printf '%s\\n' "$base"
    else
      printf '%s://%s%s\\n' "$BERTH_HOSTING_PROTO" "$BERTH_HOSTING_HOSTNAME" "$base"
    fi
    exit 0
  fi
done
echo "berth-url: port $port is not one of this workspace's ports ($BERTH_PORT_MAPPINGS)" >&2
exit 1
`;
