// Where the host plugin's parts live on dom0, relative to the root (`/` in production, a
// test's own directory otherwise). install writes them; the hook, boot and status read them.

export const INSTALL_DIR = 'opt/vif-ip-binder'
export const EXECUTABLE = `${INSTALL_DIR}/bin/vif-ip-binder`
export const MANIFEST = `${INSTALL_DIR}/install.json`
export const CHAINED_HOOK = `${INSTALL_DIR}/chained/vif-hotplug`
export const PLUGIN_LINK = 'etc/xapi.d/plugins/vif-ip-binder'
/** On root's PATH, for the admin at the console (and `man vif-ip-binder`). */
export const COMMAND_LINK = 'usr/sbin/vif-ip-binder'
export const HOOK = 'etc/xapi.d/vif-hotplug'
/** Where `install` by hand puts the boot unit: the admin's unit directory. */
export const UNIT = 'etc/systemd/system/vif-ip-binder.service'
/** Where the RPM puts it: the vendor unit directory of CentOS 7's systemd (219). */
export const VENDOR_UNIT = 'usr/lib/systemd/system/vif-ip-binder.service'
export const UNIT_WANTS = 'etc/systemd/system/multi-user.target.wants/vif-ip-binder.service'
