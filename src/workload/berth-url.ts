/**
 * The `berth-url PORT` helper mounted into container workspaces (and put on PATH for process
 * ones): prints the public URL of a container port from the injected BERTH_* variables.
 * POSIX sh only, so it works in busybox and Debian images alike.
 */
export const BERTH_URL_SCRIPT = `#!/bin/sh
# berth-url [PORT] - print the public URL of one of this workspace's ports (default: $PORT)
port="\${1:-\${PORT:-}}"
case "$port" in
  ''|*[!0-9]*) echo "usage: berth-url PORT (a container port, e.g. 8000)" >&2; exit 2 ;;
esac
old_ifs="$IFS"; IFS=','
for m in $BERTH_PORT_MAPPINGS; do
  c="\${m%%:*}"; h="\${m##*:}"
  if [ "$c" = "$port" ]; then
    IFS="$old_ifs"
    printf '%s://%s%s/hosted/%s/%s/\\n' "$BERTH_HOSTING_PROTO" "$BERTH_HOSTING_HOSTNAME" "$BERTH_HOSTING_BASE_PATH" "$BERTH_WORKSPACE_ID" "$h"
    exit 0
  fi
done
echo "berth-url: port $port is not one of this workspace's ports ($BERTH_PORT_MAPPINGS)" >&2
exit 1
`;
