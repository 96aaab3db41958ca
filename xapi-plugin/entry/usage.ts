export const usage = `usage: vif-ip-binder FUNCTION [key=value ...]

Binds dom0 addresses, default routes and routes on the bridge of a firewall VM's private
network. xapi calls it as a host plugin; the same functions run by hand:

  vif-ip-binder version
  vif-ip-binder apply bridge=xapi1 addresses=192.0.2.2/24 gateway=192.0.2.1
  vif-ip-binder status [bridge=xapi1]
  vif-ip-binder release bridge=xapi1
  vif-ip-binder plug-srs srs=<sr-uuid>[,…] [probes=<sr-uuid>=tcp:<host>:<port>] [timeout=120]
  vif-ip-binder reconcile                 apply the pool's bindings for the VMs running here
  vif-ip-binder rescue                    enable a host that booted disabled (if opted in)
  vif-ip-binder boot [wait=600]           what the boot unit runs: wait for xapi, rescue, reconcile
  vif-ip-binder install [--root DIR]      put this executable in place on the host
  vif-ip-binder uninstall [--root DIR]    take it away, restoring what was there

apply arguments: bridge (or network=<uuid>), addresses, gateway, routes,
management-address, management-bridge, proxy-arp, forwarding, gateway-check, dry-run.
Lists are comma-separated. Results are JSON on stdout; errors go to stderr with a
VIF_IP_BINDER_* code and a non-zero exit status. See the README for every argument.
`
