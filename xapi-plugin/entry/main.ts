// The vif-ip-binder executable. One file, every way in:
//   xapi (host.call_plugin):  vif-ip-binder '<methodCall>…</methodCall>'  → XML on stdout
//   a person, by hand:        vif-ip-binder apply bridge=xapi1 addresses=…  → a summary (--json: JSON)
//   xapi's VIF hook:          /etc/xapi.d/vif-hotplug -action online -vifuuid … -vmuuid …
//   the boot unit, the hook's detached worker:  vif-ip-binder boot | hotplug-worker …
//   installation:             vif-ip-binder install|uninstall [--root DIR]
//   help:                     vif-ip-binder help [FUNCTION] | FUNCTION --help | --version
//
// The hook runs for every VIF of every VM that plugs on the host, and most of them are no
// business of ours: that answer comes from the hook index alone (quick-hook.ts), before
// the rest of the program is even evaluated. Everything else is loaded on demand.

import { nothingToDoForHook } from './quick-hook.ts'

const argv = process.argv.slice(2)
// Bun's compiled executables and Node both put the script at argv[1]; our words follow.
// No top-level await: the executable is compiled to bytecode, which takes CommonJS only.
if (!nothingToDoForHook(argv, process.env)) {
  void import('./dispatch.ts')
    .then(({ main }) => main(argv))
    .then(code => {
      process.exitCode = code
    })
}
