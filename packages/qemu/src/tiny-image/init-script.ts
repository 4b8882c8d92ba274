/** Printed on the serial console once the guest is up and answers ACPI power-off. */
export const GUEST_READY_MARKER = 'NOVACRON-GUEST-READY';

/** Printed once DHCP gave eth0 an address: `NOVACRON-GUEST-IP <address>`. */
export const GUEST_IP_PREFIX = 'NOVACRON-GUEST-IP';

/** Printed every second: `HEARTBEAT <n> <uptime-seconds>`. */
export const HEARTBEAT_PREFIX = 'HEARTBEAT';

/** Kernel arguments every tiny guest boots with (the VM's own are appended after them). */
export const TINY_DEFAULT_KERNEL_ARGS = 'quiet';

/** Modules the guest loads (with their dependencies first): virtio disks and NICs, ACPI button. */
export const TINY_GUEST_MODULES = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'virtio_blk',
  'failover',
  'net_failover',
  'virtio_net',
  // evdev before button, so the power button's /dev/input node exists when button registers it.
  'evdev',
  'button',
] as const;

/** Where the builder lists the modules to load, one name per line, in load order. */
export const MODULE_LIST_PATH = 'etc/novacron-modules';

/** Where the builder puts the script busybox udhcpc runs to apply a lease. */
export const UDHCPC_SCRIPT_PATH = 'etc/udhcpc.script';

/**
 * The udhcpc lease script: busybox ships the applet but not the script that configures the
 * interface. udhcpc runs it with the lease in variables; it writes to /dev/console because
 * udhcpc's own output goes to /dev/null.
 */
export const TINY_UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig)
    ifconfig "$interface" 0.0.0.0 up
    ;;
  bound|renew)
    before=$(ip -4 -o addr show dev "$interface" 2>/dev/null)
    ifconfig "$interface" "$ip" netmask "\${subnet:-255.255.255.0}" up
    for gateway in $router; do
      route add default gw "$gateway" dev "$interface" 2>/dev/null
      break
    done
    if [ -n "$dns" ]; then
      for server in $dns; do echo "nameserver $server"; done > /etc/resolv.conf
    fi
    case "$before" in
      *" $ip/"*) ;;
      *) echo "${GUEST_IP_PREFIX} $ip" > /dev/console ;;
    esac
    ;;
esac
exit 0
`;

/**
 * /init of the tiny guest (busybox ash, PID 1). Kernel arguments select the workload:
 * `workload=idle` (default) or `workload=dirty dirty_mib_s=N wss_mib=M`, which overwrites an M MiB
 * working set at N MiB/s with random data, in ticks of 100 ms, while the heartbeat goes on, and
 * reports `DIRTY <MiB written> <uptime-seconds>` every 2 s.
 * With a NIC, eth0 gets its address from DHCP in the background (READY does not wait for it) and
 * `NOVACRON-GUEST-IP <address>` is printed once it has one. The serial console also runs an
 * interactive shell, so a user (or a test) can type commands such as `ping`.
 * Random data comes from a 16 MiB pool filled once from /dev/urandom: under TCG urandom gives only
 * about 20 MiB/s, copying runs at over 100 MiB/s, and copies start at shifting pool offsets so
 * successive passes over the working set write different data.
 */
export const TINY_INIT_SCRIPT = `#!/bin/sh
# NovaCron tiny guest. PID 1: it must never exit.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run

for module in $(cat /${MODULE_LIST_PATH}); do
  insmod "/lib/modules/$module.ko" || echo "NOVACRON-GUEST-WARN insmod $module failed"
done

workload=idle
dirty_mib_s=16
wss_mib=64
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    workload=*) workload="\${arg#*=}" ;;
    dirty_mib_s=*) dirty_mib_s="\${arg#*=}" ;;
    wss_mib=*) wss_mib="\${arg#*=}" ;;
  esac
done
case "$dirty_mib_s" in ''|*[!0-9]*) dirty_mib_s=16 ;; esac
case "$wss_mib" in ''|*[!0-9]*) wss_mib=64 ;; esac

# ACPI power button (QMP system_powerdown): any event on its input device powers off.
buttons=0
for dev in /sys/class/input/event*; do
  [ -r "$dev/device/name" ] || continue
  if [ "$(cat "$dev/device/name")" = "Power Button" ]; then
    buttons=$((buttons + 1))
    ( dd if="/dev/input/\${dev##*/}" of=/dev/null bs=4096 count=1 2>/dev/null &&
      echo "NOVACRON-GUEST-POWEROFF" && poweroff -f ) &
  fi
done
[ "$buttons" -gt 0 ] || echo "NOVACRON-GUEST-WARN no ACPI power button"

now_cs() {
  read -r up _ < /proc/uptime
  NOW=$(( \${up%.*} * 100 + 1\${up#*.} - 100 ))
}

dirty() {
  rate=$1
  wss_blocks=$(($2 * 16))
  pool_blocks=256
  [ "$rate" -gt 0 ] && [ "$wss_blocks" -gt 0 ] || return 0
  mkdir -p /dirty
  mount -t tmpfs -o size=$(($2 + 20))m tmpfs /dirty || { echo "NOVACRON-GUEST-WARN no tmpfs"; return 1; }
  dd if=/dev/urandom of=/dirty/pool bs=64k count=$pool_blocks 2>/dev/null
  pos=0
  tick=0
  written=0
  now_cs
  next=$NOW
  while :; do
    step=$((tick % 10))
    n=$(( (step + 1) * rate * 16 / 10 - step * rate * 16 / 10 ))
    while [ "$n" -gt 0 ]; do
      chunk=$n
      [ "$chunk" -gt $((wss_blocks - pos)) ] && chunk=$((wss_blocks - pos))
      [ "$chunk" -gt "$pool_blocks" ] && chunk=$pool_blocks
      skip=$(( (pos * 7 + tick) % (pool_blocks - chunk + 1) ))
      dd if=/dirty/pool of=/dirty/wss bs=64k count=$chunk skip=$skip seek=$pos conv=notrunc 2>/dev/null
      pos=$(( (pos + chunk) % wss_blocks ))
      n=$((n - chunk))
      written=$((written + chunk))
    done
    tick=$((tick + 1))
    if [ $((tick % 20)) -eq 0 ]; then
      read -r up _ < /proc/uptime
      echo "DIRTY $((written / 16)) $up"
    fi
    next=$((next + 10))
    now_cs
    # Behind schedule: carry on at full speed but do not build up a debt to burst later.
    if [ "$NOW" -lt "$next" ]; then usleep $(( (next - NOW) * 10000 )); else next=$NOW; fi
  done
}

echo "${GUEST_READY_MARKER}"
echo "NOVACRON-GUEST-WORKLOAD $workload"
if [ "$workload" = dirty ]; then
  echo "NOVACRON-GUEST-DIRTY rate_mib_s=$dirty_mib_s wss_mib=$wss_mib"
  dirty "$dirty_mib_s" "$wss_mib" &
fi

ip link set lo up 2>/dev/null
if [ -e /sys/class/net/eth0 ]; then
  ( udhcpc -f -i eth0 -s /${UDHCPC_SCRIPT_PATH} -T 1 -A 2 >/dev/null 2>&1 & )
fi

# An interactive shell on the serial console; started again when it exits.
( while :; do setsid cttyhack sh; sleep 1; done ) </dev/console >/dev/console 2>&1 &

n=0
while :; do
  n=$((n + 1))
  read -r up _ < /proc/uptime
  echo "${HEARTBEAT_PREFIX} $n $up"
  sleep 1
done
`;
