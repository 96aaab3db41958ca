// The floor of the vif-hotplug trigger: the hook Xen's vif-route would be for this one
// binding, as a shell script with everything baked in (the VIF's and VM's UUIDs, the
// address, the mirror, the gateway). No lock, no record, no check, no release of anything it did not
// add itself: only what must happen for dom0 to be reachable, at the speed of sh and ip.
// The benchmark installs it as <root>/etc/xapi.d/vif-hotplug, alternated with ours.

export interface ShellHookBinding {
  vif: string
  vm: string
  bridge: string
  address: string
  prefix: number
  managementBridge: string
  gateway: string
  /** The default route to put back on remove (`ip route replace` words), if there was one. */
  previousDefault?: string
}

export function shellHook(b: ShellHookBinding): string {
  const restore = b.previousDefault ? `ip route replace ${b.previousDefault}\n  ` : ''
  return `#!/bin/sh
# vif-hotplug -action online|remove -vifuuid UUID -vmuuid UUID
[ "$4" = "${b.vif}" ] && [ "$6" = "${b.vm}" ] || exit 0
case "$2" in
online)
  ip addr add ${b.address}/${b.prefix} dev ${b.bridge}
  ip addr add ${b.address}/32 dev ${b.managementBridge}
  ip route replace default via ${b.gateway} dev ${b.bridge}
  ;;
remove)
  ip addr del ${b.address}/32 dev ${b.managementBridge}
  ${restore};;
esac
exit 0
`
}
